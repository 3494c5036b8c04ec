"""The rule-based evaluators over one table of inputs: what each result says.

For each evaluator (a name, its config) and each input of the table: the status, score,
message, details and assertions of the result, or the exception raised. ``evaluated_at`` and
``duration_ms`` are left out (times).
"""

from __future__ import annotations

from typing import Any

import _compat

from aiobs.evals import (
    EvalInput,
    GroundTruthConfig,
    GroundTruthEval,
    GroundTruthMatchMode,
    LatencyConsistencyConfig,
    LatencyConsistencyEval,
    PIIDetectionConfig,
    PIIDetectionEval,
    PIIType,
    RegexAssertion,
    RegexAssertionConfig,
    SchemaAssertion,
    SchemaAssertionConfig,
    SQLQueryValidator,
    SQLQueryValidatorConfig,
)

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}

INPUTS: list[dict[str, Any]] = [
    {"user_input": "Capital of France?", "model_output": "The capital of France is Paris."},
    {"user_input": "Say sorry", "model_output": "Sorry, I cannot help with that."},
    {"user_input": "", "model_output": ""},
    {"user_input": "json", "model_output": '{"name": "Ada", "age": 36}'},
    {"user_input": "json", "model_output": '{"name": "Ada", "age": -1, "x": 1}'},
    {"user_input": "json", "model_output": 'Here:\n```json\n{"name": "Bo", "age": 2}\n```'},
    {"user_input": "json", "model_output": "{not json"},
    {"user_input": "json", "model_output": '[1, 2, "x"]'},
    {
        "user_input": "Mail me at jane.doe@example.com or 555-123-4567",
        "model_output": "Sure: jane.doe@example.com, SSN 123-45-6789, card 4111111111111111.",
        "system_prompt": "Admin: root@corp.io, server 192.168.1.20, born 12/31/1990",
        "expected_output": "jane.doe@example.com",
    },
    {
        "user_input": "What is 2+2?",
        "model_output": "The answer is   4.",
        "expected_output": "the answer is 4",
    },
    {"user_input": "q", "model_output": "4", "expected_output": "4"},
    {"user_input": "q", "model_output": "Four, I think", "expected_output": "four"},
    {"user_input": "q", "model_output": "blue green red", "expected_output": "red green yellow"},
    {"user_input": "q", "model_output": "a", "metadata": {"latencies": [100, 120, 95, 110, 105]}},
    {"user_input": "q", "model_output": "a", "metadata": {"latencies": [100, 900, 95, 3000]}},
    {"user_input": "q", "model_output": "a", "metadata": {"latency_ms": 250}},
    {"user_input": "q", "model_output": "a", "metadata": {"other": 1}},
    {"user_input": "q", "model_output": "SELECT id, name FROM users WHERE age > 3 LIMIT 10"},
    {"user_input": "q", "model_output": "SELEC * FORM"},
    {"user_input": "q", "model_output": "  SELECT 1;  "},
    {"user_input": "q", "model_output": "SELECT * FROM t WHERE"},
    {"user_input": "q", "model_output": "SELECT 1; SELECT 2"},
    {"user_input": "q", "model_output": "WITH a AS (SELECT 1 AS x) SELECT x FROM a ORDER BY x"},
    {"user_input": "q", "model_output": "INSERT INTO t (a) VALUES (1) RETURNING a"},
    {"user_input": "q", "model_output": "SELECT `a` FROM `t`"},
    {"user_input": "q", "model_output": "SELECT (1"},
    {"user_input": "q", "model_output": "Call +1 (555) 010-9999 or 555.010.8888 from 10.0.0.1"},
]

EVALUATORS: list[tuple[str, Any]] = [
    ("regex_any", lambda: RegexAssertion.from_patterns(patterns=[r"Paris", r"\d+"])),
    (
        "regex_all_negative",
        lambda: RegexAssertion(
            RegexAssertionConfig(
                patterns=[r"paris", r"france"],
                negative_patterns=[r"\b(sorry|cannot)\b"],
                case_sensitive=False,
                match_mode="all",
            )
        ),
    ),
    (
        "regex_fail_fast",
        lambda: RegexAssertion(
            RegexAssertionConfig(patterns=[r"^X", r"Paris"], fail_fast=True, name="custom")
        ),
    ),
    ("regex_empty", RegexAssertion),
    ("schema", lambda: SchemaAssertion.from_schema(PERSON)),
    (
        "schema_fail_fast_no_extract",
        lambda: SchemaAssertion(
            SchemaAssertionConfig(json_schema=PERSON, fail_fast=True, extract_json=False)
        ),
    ),
    ("ground_normalized", GroundTruthEval),
    ("ground_exact", GroundTruthEval.exact),
    ("ground_contains", GroundTruthEval.contains),
    ("ground_punct", lambda: GroundTruthEval.normalized(strip_punctuation=True)),
    (
        "ground_semantic",
        lambda: GroundTruthEval(GroundTruthConfig(match_mode=GroundTruthMatchMode.SEMANTIC)),
    ),
    ("latency_default", LatencyConsistencyEval),
    (
        "latency_bounds",
        lambda: LatencyConsistencyEval(
            LatencyConsistencyConfig(
                max_latency_ms=1000, max_std_dev_ms=50, max_p95_ms=800, max_p99_ms=2000
            )
        ),
    ),
    ("pii_default", PIIDetectionEval.default),
    ("pii_strict", PIIDetectionEval.strict),
    (
        "pii_redact_lenient",
        lambda: PIIDetectionEval(
            PIIDetectionConfig(
                detect_types=[PIIType.EMAIL, PIIType.IP_ADDRESS, PIIType.DATE_OF_BIRTH],
                redact=True,
                fail_on_detection=False,
            )
        ),
    ),
    ("pii_custom", lambda: PIIDetectionEval.with_custom_patterns({"ticket": r"T-\d{4}"})),
    ("pii_no_details", lambda: PIIDetectionEval(PIIDetectionConfig(include_details=False))),
    ("sql", lambda: SQLQueryValidator(SQLQueryValidatorConfig(dialect="postgres"))),
    ("sql_any_dialect", SQLQueryValidator),
    (
        "sql_mysql_no_details",
        lambda: SQLQueryValidator(SQLQueryValidatorConfig(dialect="mysql", include_details=False)),
    ),
]


def outcome(evaluator: Any, item: dict[str, Any]) -> dict[str, Any]:
    try:
        result = evaluator(EvalInput(**item))
    except Exception as exc:
        return {"raised": {"type": type(exc).__name__, "message": str(exc)}}
    return result.model_dump(mode="json", exclude={"evaluated_at", "duration_ms"})


def main() -> None:
    table: dict[str, list[dict[str, Any]]] = {}
    for name, make in EVALUATORS:
        evaluator = make()
        table[name] = [outcome(evaluator, item) for item in INPUTS]
    names = [[repr(make()), make().eval_name] for _, make in EVALUATORS]
    _compat.report(results=table, names=names)


main()
