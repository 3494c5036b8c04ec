"""Snapshots of arbitrary values: bounded, JSON-compatible, redacted, and never raising."""
