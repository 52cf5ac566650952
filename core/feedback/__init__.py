"""Feedback tickets from members, and NPS surveys sent as pushes."""
