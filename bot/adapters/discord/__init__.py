"""The Discord adapter (discord.py). Modules import the SDK as ``import discord``: absolute
imports resolve to the installed package, since this package is ``bot.adapters.discord``."""
