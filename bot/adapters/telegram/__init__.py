"""The Telegram adapter (python-telegram-bot): updates in as neutral Events, Replies out as
Bot API messages. No business logic lives here."""
