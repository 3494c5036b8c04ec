"""The stand-in's deterministic answers and token counts (not a model: a fixed recipe)."""

from __future__ import annotations

import hashlib
import re

_WORD = re.compile(r"\S+\s*")


def answer_for(prompt: str) -> str:
    """A short, stable reply to ``prompt``: the same prompt always gets the same answer."""
    words = prompt.split()
    topic = " ".join(words[-6:]) if words else "nothing"
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    return f"Stand-in answer {digest}: you asked about {topic}."


def pieces(text: str) -> list[str]:
    """``text`` cut into stream deltas, one word (with its trailing space) each."""
    return _WORD.findall(text) or [text]


def count_tokens(text: str) -> int:
    """A token count for ``text``: about four characters per token, at least one."""
    return max(1, (len(text) + 3) // 4)


def embedding(text: str, dimensions: int = 8) -> list[float]:
    """A stable unit-free vector for ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % len(digest)] - 128) / 128, 6) for i in range(dimensions)]
