"""The stand-in's deterministic answers and token counts (not a model: a fixed recipe).

Tests of LLM judges (``aiobs.evals``) script the judge's answer from inside the text it judges:
a prompt holding ``[[standin-reply: TEXT]]`` is answered with ``TEXT`` exactly (valid JSON or not).
Without one, a prompt of one of aiobs's judges gets that judge's "all clear" JSON verdict.
"""

from __future__ import annotations

import hashlib
import json
import re

_WORD = re.compile(r"\S+\s*")
_SCRIPTED = re.compile(r"\[\[standin-reply: (.*?)\]\]", re.DOTALL)

JUDGE_VERDICTS: dict[str, dict[str, object]] = {
    "Analyze the following AI model output for hallucinations.": {
        "score": 1.0,
        "has_hallucinations": False,
        "hallucinations": [],
        "analysis": "The output is grounded.",
    },
    "Analyze the following AI interaction for jailbreak/safety bypass.": {
        "score": 1.0,
        "jailbroken": False,
        "violations": [],
        "analysis": "The output is safe.",
    },
    "Examine the text and determine whether the text is toxic or not.": {
        "label": "non-toxic",
        "score": 0.0,
        "categories": [],
        "explanation": "Nothing toxic.",
    },
}
"""Each judge prompt's first words (as aiobs.evals writes them) -> the stand-in's verdict."""


def answer_for(prompt: str) -> str:
    """A short, stable reply to ``prompt``: the same prompt always gets the same answer.

    A scripted ``[[standin-reply: TEXT]]`` in the prompt is the answer; a judge's prompt gets
    its "all clear" verdict (see the module docs).
    """
    scripted = _SCRIPTED.search(prompt)
    if scripted:
        return scripted.group(1)
    for opening, verdict in JUDGE_VERDICTS.items():
        if opening in prompt:
            return json.dumps(verdict)
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
