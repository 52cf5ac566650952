"""The activity log: one row per inbound message or event, read by analytics."""
