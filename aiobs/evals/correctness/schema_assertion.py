"""``SchemaAssertion``: the output is JSON (possibly in a markdown block) matching a schema."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from ..base import BaseEval, judged
from ..models import AssertionDetail, EvalInput, EvalResult, EvalStatus, SchemaAssertionConfig

_CODE_BLOCKS = (
    re.compile(r"```json\s*\n(.*?)\n```", re.DOTALL),
    re.compile(r"```\s*\n(.*?)\n```", re.DOTALL),
    re.compile(r"```(.*?)```", re.DOTALL),
)


def _shortened(text: str, limit: int = 100) -> str:
    return text[:limit] + "..." if len(text) > limit else text


class SchemaAssertion(BaseEval):
    """Pass when the output parses as JSON and validates against a JSON Schema (draft 7).

    Example::

        SchemaAssertion.from_schema({"type": "object", "required": ["name"]})

    An invalid schema fails at construction (a pydantic ``ValidationError``, a ``ValueError``).
    """

    name: str = "schema_assertion"
    description: str = "Asserts that output is valid JSON matching a schema"
    config_class: type[SchemaAssertionConfig] = SchemaAssertionConfig

    _jsonschema_available: bool | None = None

    def __init__(self, config: SchemaAssertionConfig) -> None:
        super().__init__(config)
        self.config: SchemaAssertionConfig = self.config
        self._validator = self._create_validator()

    @classmethod
    def from_schema(
        cls, schema: dict[str, Any], strict: bool = True, extract_json: bool = True
    ) -> SchemaAssertion:
        """An evaluator of this schema."""
        return cls(
            SchemaAssertionConfig(json_schema=schema, strict=strict, extract_json=extract_json)
        )

    @classmethod
    def is_available(cls) -> bool:
        """Whether ``jsonschema`` is installed (without it only the JSON parse is checked)."""
        if cls._jsonschema_available is None:
            try:
                importlib.import_module("jsonschema")
            except ImportError:
                cls._jsonschema_available = False
            else:
                cls._jsonschema_available = True
        return cls._jsonschema_available

    def _create_validator(self) -> Any:
        if not self.is_available():
            return None
        return importlib.import_module("jsonschema").Draft7Validator(self.config.json_schema)

    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Parse the output and validate it."""
        return judged(self.eval_name, self._evaluate, eval_input, kwargs)

    def _evaluate(self, eval_input: EvalInput, **_: Any) -> EvalResult:
        output = eval_input.model_output
        parsed, parse_error = self._parse_output(output)
        if parse_error:
            failed = AssertionDetail(
                name="json_parse",
                passed=False,
                expected="Valid JSON",
                actual=_shortened(output),
                message=parse_error,
            )
            return self._result(False, [failed], f"Failed to parse JSON: {parse_error}", None)
        assertions = [
            AssertionDetail(
                name="json_parse",
                passed=True,
                expected="Valid JSON",
                actual="Parsed successfully",
                message="Output is valid JSON",
            )
        ]
        if self._validator is None:
            assertions.append(
                AssertionDetail(
                    name="schema_validation",
                    passed=True,
                    expected="Schema validation",
                    actual="Skipped - jsonschema not installed",
                    message="Install jsonschema for full validation",
                )
            )
            message = "JSON is valid (schema validation skipped - install jsonschema)"
            return self._result(True, assertions, message, parsed)
        errors = list(self._validator.iter_errors(parsed))
        if errors:
            for error in errors:
                path = ".".join(str(p) for p in error.absolute_path) or "(root)"
                assertions.append(
                    AssertionDetail(
                        name=f"schema:{path}",
                        passed=False,
                        expected=error.schema,
                        actual=error.instance,
                        message=error.message,
                    )
                )
                if self.config.fail_fast:
                    break
            message = f"Schema validation failed: {len(errors)} error(s)"
            return self._result(False, assertions, message, parsed)
        assertions.append(
            AssertionDetail(
                name="schema_validation",
                passed=True,
                expected="Matches schema",
                actual="Valid",
                message="Output matches JSON schema",
            )
        )
        return self._result(True, assertions, "JSON output matches schema", parsed)

    def _parse_output(self, output: str) -> tuple[Any | None, str | None]:
        """``(value, None)``, or ``(None, the first parse error)``."""
        if not self.config.parse_json:
            return output, None
        try:
            return json.loads(output), None
        except json.JSONDecodeError as exc:
            first_error = str(exc)
        if self.config.extract_json:
            extracted = self._extract_json_from_markdown(output)
            if extracted:
                try:
                    return json.loads(extracted), None
                except json.JSONDecodeError:
                    pass
        return None, first_error

    def _extract_json_from_markdown(self, text: str) -> str | None:
        for pattern in _CODE_BLOCKS:
            match = pattern.search(text)
            if match:
                return match.group(1).strip()
        return None

    def _result(
        self, passed: bool, assertions: list[AssertionDetail], message: str, parsed: Any | None
    ) -> EvalResult:
        score = sum(1 for a in assertions if a.passed) / len(assertions)
        include = self.config.include_details
        details: dict[str, Any] = {
            "strict": self.config.strict,
            "extract_json": self.config.extract_json,
        }
        if parsed is not None and include:
            details["parsed_json"] = parsed
        return EvalResult(
            status=EvalStatus.PASSED if passed else EvalStatus.FAILED,
            score=score,
            eval_name=self.eval_name,
            message=message,
            assertions=assertions if include else None,
            details=details if include else None,
        )
