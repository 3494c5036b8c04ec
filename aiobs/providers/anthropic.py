"""anthropic integration (to be completed)."""
