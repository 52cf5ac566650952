"""Pushes: creator campaigns to a segment (with an A/B split), the outbox that delivers them
once per member at the platforms' pace, quiet hours, muting, and automations (welcome
sequence, win-back)."""
