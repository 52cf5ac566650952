"""A member's data in their hands: export it, erase it; and merging two members into one."""
