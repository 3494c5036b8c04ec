"""``HallucinationDetectionEval``: an LLM judge looks for claims the output cannot support."""

from __future__ import annotations

import json
from typing import Any

from .._judge import JudgeEval, severity_counts, verdict_items, verdict_score, verdict_text
from ..models import (
    AssertionDetail,
    EvalInput,
    EvalResult,
    HallucinationDetectionConfig,
)

HALLUCINATION_JUDGE_SYSTEM_PROMPT = (
    "You are an expert fact-checker and hallucination detector. Your task is to analyze an AI "
    "model's output and determine if it contains hallucinations (fabricated, false, or "
    "unsupported information).\n\n"
    "A hallucination is:\n"
    "- Information that is factually incorrect\n"
    "- Claims not supported by the provided context/documents\n"
    "- Made-up details, names, dates, statistics, or quotes\n"
    "- Confident statements about things that cannot be verified\n\n"
    "You must be thorough and precise in your analysis."
)

HALLUCINATION_JUDGE_PROMPT = """Analyze the following AI model output for hallucinations.

## User Question/Input:
{user_input}

{context_section}

## Model Output to Evaluate:
{model_output}

## Your Task:
1. Identify any hallucinations in the model output
2. For each hallucination found, explain why it's a hallucination
3. Provide a hallucination score from 0.0 to 1.0 where:
   - 1.0 = No hallucinations, fully accurate and grounded
   - 0.7-0.9 = Minor issues (slight inaccuracies or unsupported but plausible claims)
   - 0.4-0.6 = Moderate hallucinations (some fabricated details)
   - 0.1-0.3 = Significant hallucinations (major fabrications)
   - 0.0 = Completely hallucinated/false

Respond in the following JSON format:
```json
{{
    "score": <float between 0.0 and 1.0>,
    "has_hallucinations": <true or false>,
    "hallucinations": [
        {{
            "claim": "<the hallucinated claim>",
            "reason": "<why this is a hallucination>",
            "severity": "<minor|moderate|severe>"
        }}
    ],
    "analysis": "<brief overall analysis>"
}}
```

Respond ONLY with the JSON, no additional text."""


def _format_context(context: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, label in (("documents", "Document"), ("sources", "Source")):
        if key in context:
            value = context[key]
            if isinstance(value, list):
                parts.extend(f"{label} {i}:\n{item}" for i, item in enumerate(value, 1))
            else:
                parts.append(f"{label}s:\n{value}")
    for key, value in context.items():
        if key in ("documents", "sources"):
            continue
        shown = json.dumps(value, indent=2) if isinstance(value, (list, dict)) else value
        parts.append(f"{key}:\n{shown}")
    return "\n\n".join(parts)


class HallucinationDetectionEval(JudgeEval):
    """Fail when the judge's grounding score is below ``hallucination_threshold``.

    Example::

        evaluator = HallucinationDetectionEval(client=OpenAI(), model="gpt-4o-mini")
        evaluator(EvalInput(user_input=q, model_output=a, context={"documents": [doc]}))
    """

    name: str = "hallucination_detection"
    description: str = "Detects hallucinations in model outputs using LLM-as-judge"
    config_class: type[HallucinationDetectionConfig] = HallucinationDetectionConfig
    system_prompt = HALLUCINATION_JUDGE_SYSTEM_PROMPT

    def __init__(
        self,
        client: Any,
        model: str,
        config: HallucinationDetectionConfig | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(client, model, config, temperature, max_tokens)
        self.config: HallucinationDetectionConfig = self.config

    def _build_prompt(self, eval_input: EvalInput) -> str:
        context_section = ""
        if self.config.check_against_context and eval_input.context:
            text = _format_context(eval_input.context)
            if text:
                context_section = f"## Provided Context/Documents:\n{text}\n"
        return HALLUCINATION_JUDGE_PROMPT.format(
            user_input=eval_input.user_input,
            context_section=context_section,
            model_output=eval_input.model_output,
        )

    def _verdict_result(self, verdicts: list[dict[str, Any]]) -> EvalResult:
        (verdict,) = verdicts
        config = self.config
        score = verdict_score(verdict, 0.5)
        found = verdict.get("has_hallucinations", score < config.hallucination_threshold)
        claims = verdict_items(verdict, "hallucinations")
        passed = not found if config.strict else score >= config.hallucination_threshold
        assertions = [
            AssertionDetail(
                name=f"hallucination:{claim.get('severity', 'unknown')}",
                passed=False,
                expected="Factual, grounded claim",
                actual=claim.get("claim", "Unknown claim"),
                message=claim.get("reason", "Hallucination detected"),
            )
            for claim in claims[: config.max_claims]
        ] or [
            AssertionDetail(
                name="no_hallucinations",
                passed=True,
                expected="No hallucinations",
                actual="No hallucinations detected",
                message="Output appears to be grounded and factual",
            )
        ]
        message = (
            f"Hallucinations detected: {len(claims)} issue(s) - {severity_counts(claims)}"
            if found
            else "No hallucinations detected"
        )
        details: dict[str, Any] = {
            "score": score,
            "has_hallucinations": found,
            "hallucination_count": len(claims),
            "analysis": verdict_text(verdict, "analysis"),
            "judge_model": self._llm.model,
            "threshold": config.hallucination_threshold,
        }
        if claims and config.include_details:
            details["hallucinations"] = claims
        return self._judged_result(
            passed=passed, score=score, message=message, assertions=assertions, details=details
        )
