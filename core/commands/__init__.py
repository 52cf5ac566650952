"""Command parsing, parameter conversion and the router that dispatches to handlers."""
