"""The stand-in's anthropic routes (to be completed)."""

from __future__ import annotations

from .server import Reply, Request


def handle(request: Request) -> Reply | None:
    """The reply to a anthropic API request, or ``None`` when the path is not one of its routes."""
    return None
