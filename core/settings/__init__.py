"""Per-community settings: typed keys with defaults that creators can change."""
