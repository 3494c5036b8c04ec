"""The LLM-judged evaluators over one table of judge answers, with a fake OpenAI-shaped client.

The client is what users' tests pass: ``client.chat.completions.create(...)`` returning plain
attribute objects. For each evaluator and each answer: the result (without ``evaluated_at``,
``duration_ms`` and ``metadata``, where this package adds the judge's cost), the request sent.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import _compat

from aiobs.evals import (
    EvalInput,
    HallucinationDetectionEval,
    JailbreakDetectionConfig,
    JailbreakDetectionEval,
    ToxicityDetectionConfig,
    ToxicityDetectionEval,
)

ANSWERS: list[Any] = [
    {"score": 0.95, "has_hallucinations": False, "hallucinations": [], "analysis": "ok"},
    {
        "score": 0.3,
        "has_hallucinations": True,
        "hallucinations": [
            {"claim": "c1", "reason": "r1", "severity": "severe"},
            {"claim": "c2", "severity": "minor"},
        ],
        "analysis": "bad",
    },
    {"score": 0.8, "jailbroken": False, "violations": []},
    {
        "score": 0.2,
        "violations": [{"type": "harmful_content", "description": "d", "severity": "severe"}],
    },
    {"label": "toxic", "score": 0.7, "categories": ["profanity"], "explanation": "rude"},
    {"label": "toxic", "score": 0.3, "categories": ["profanity"], "explanation": "mild"},
    {"label": "non-toxic", "score": 0.0, "categories": [], "explanation": "fine"},
    {},
    '```json\n{"score": 0.6, "label": "toxic"}\n```',
    'Sure! Here is my verdict: {"score": 0.5} Thanks.',
]


class FakeClient:
    """An OpenAI-shaped fake whose every answer is ``self.answer``."""

    def __init__(self) -> None:
        self.answer = ""
        self.requests: list[dict[str, Any]] = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **kwargs: Any) -> Any:
        self.requests.append(kwargs)
        message = SimpleNamespace(content=self.answer)
        usage = SimpleNamespace(prompt_tokens=100, completion_tokens=20, total_tokens=120)
        return SimpleNamespace(
            choices=[SimpleNamespace(message=message)], model="judge-1", usage=usage
        )


def evaluators(client: FakeClient) -> dict[str, Any]:
    return {
        "hallucination": HallucinationDetectionEval(client=client, model="judge-1"),
        "hallucination_strict": HallucinationDetectionEval.with_openai(
            client, strict=True, max_claims=1
        ),
        "jailbreak": JailbreakDetectionEval(client=client, model="judge-1"),
        "jailbreak_strict": JailbreakDetectionEval(
            client=client, model="judge-1", config=JailbreakDetectionConfig(strict=True)
        ),
        "toxicity": ToxicityDetectionEval(client=client, model="judge-1"),
        "toxicity_lenient": ToxicityDetectionEval(
            client=client,
            model="judge-1",
            config=ToxicityDetectionConfig(fail_on_detection=False, check_input=True),
        ),
    }


def main() -> None:
    client = FakeClient()
    table: dict[str, list[Any]] = {}
    item = EvalInput(
        user_input="Tell me about Paris",
        model_output="Paris was founded in 250 BC.",
        system_prompt="Be factual.",
        context={"documents": ["Paris is in France."], "note": {"k": 1}},
    )
    for name, evaluator in evaluators(client).items():
        rows = []
        for answer in ANSWERS:
            client.answer = answer if isinstance(answer, str) else json.dumps(answer)
            client.requests.clear()
            result = evaluator.evaluate(item)
            rows.append(
                {
                    "result": result.model_dump(
                        mode="json", exclude={"evaluated_at", "duration_ms", "metadata"}
                    ),
                    "requests": client.requests[:],
                }
            )
        table[name] = rows
    _compat.report(results=table)


main()
