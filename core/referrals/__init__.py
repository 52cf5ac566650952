"""Referrals: codes, attribution, rewards in points, and commissions in money."""
