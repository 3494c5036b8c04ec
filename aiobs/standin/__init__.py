"""A local stand-in for the OpenAI, Anthropic and Gemini HTTP APIs, for demos and tests.

It speaks each vendor's wire format (JSON bodies, server-sent-event streams, error bodies) well
enough for the official SDKs to run unchanged against it, answers deterministically (a short
reply derived from the last user message, with token counts) and can be told to fail: an HTTP
error, a delay, or a connection reset. It runs in a thread on 127.0.0.1 and needs only the
standard library::

    from aiobs.standin import StandinServer

    with StandinServer() as server:
        client = OpenAI(base_url=server.openai_url, api_key="x")
        anthropic = Anthropic(base_url=server.anthropic_url, api_key="x")
        gemini = genai.Client(api_key="x", http_options={"base_url": server.gemini_url})
        server.fail_next(Reply.error(429, "slow down"))   # the next request gets a 429

It is not a model: it never calls out, and its answers only look like answers.
"""

from __future__ import annotations

from .server import Handler, Reply, Request, StandinServer

__all__ = ["Handler", "Reply", "Request", "StandinServer"]
