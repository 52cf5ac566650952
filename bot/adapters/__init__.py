"""Adapters: translate platform traffic into core Events and render Replies back."""
