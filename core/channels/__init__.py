"""Channel attribution: creators' tagged entry links, each member's touches, and the report."""
