// Starts the Telegram Bot API emulator on 127.0.0.1:PORT (argv[2]) and prints "ready".
const axios = require('axios');
const TelegramServer = require('telegram-test-api');

const port = Number(process.argv[2]);
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 600 });

// The emulator ignores setWebhook's secret_token; Telegram sends it back on every webhook call
// in the X-Telegram-Bot-Api-Secret-Token header, so send it as Telegram does.
const setWebhook = server.setWebhook.bind(server);
server.setWebhook = (webhook, botToken) => {
  if (webhook.secret_token) {
    axios.defaults.headers.common['X-Telegram-Bot-Api-Secret-Token'] = webhook.secret_token;
  }
  return setWebhook(webhook, botToken);
};

server.start().then(() => console.log('ready'));
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
