"""gemini integration (to be completed)."""
