"""The package version, read by the build backend and reported in every session's labels."""

__version__ = "0.3.0"
