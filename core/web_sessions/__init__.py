"""Web sign-in: one-time login links the bot sends, and the server-side sessions they become."""
