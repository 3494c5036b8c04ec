"""openai integration (to be completed)."""
