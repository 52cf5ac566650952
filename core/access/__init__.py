"""Paid access to chats: the platform operations it needs (ports) and, later, plans and
reconciliation."""
