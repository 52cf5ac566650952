"""The points ledger: double-entry accounts and immutable transfers, tiers, earning rules."""
