"""Q&A: questions with point bounties held in escrow, answers, acceptance, search, suggestions."""
