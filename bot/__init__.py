"""The runnable studyhall: configuration, the App, handlers, adapters and the CLI."""
