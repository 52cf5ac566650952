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

// Tokens to refuse (argv[3], comma-separated) as Telegram refuses a revoked token: 401.
const rejected = new Set((process.argv[3] || '').split(',').filter(Boolean));
if (rejected.size) {
  const express = require('express');
  const emulator = server.webServer;
  server.webServer = express();
  server.webServer.use('/bot:token', (req, res, next) => {
    if (!rejected.has(req.params.token)) return next();
    return res.status(401).json({ ok: false, error_code: 401, description: 'Unauthorized' });
  });
  server.webServer.use(emulator);
}

server.start().then(() => console.log('ready'));
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
