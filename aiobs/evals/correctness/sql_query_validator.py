"""``SQLQueryValidator``: the output parses as SQL (with ``sqlglot``, in a dialect if given)."""

from __future__ import annotations

import importlib
from typing import Any

from ..base import BaseEval, CannotJudgeError, judged
from ..models import AssertionDetail, EvalInput, EvalResult, EvalStatus, SQLQueryValidatorConfig

INSTALL_HINT = (
    "sqlglot is required for SQLQueryValidator. Install it with: pip install 'aiobs[sql]'"
)


def _shortened(text: str) -> str:
    return text[:100] + "..." if len(text) > 100 else text


class SQLQueryValidator(BaseEval):
    """Pass when the output is one syntactically valid SQL statement.

    Needs the ``sqlglot`` package; without it every input gets an error result saying how to
    install it (aiobs 0.2 raised ``ImportError`` from ``evaluate``).
    """

    name: str = "sql_query_validator"
    description: str = "Validates that output is a valid SQL query"
    config_class: type[SQLQueryValidatorConfig] = SQLQueryValidatorConfig

    _sqlglot_available: bool | None = None

    def __init__(self, config: SQLQueryValidatorConfig | None = None) -> None:
        super().__init__(config)
        self.config: SQLQueryValidatorConfig = self.config

    @classmethod
    def is_available(cls) -> bool:
        """Whether ``sqlglot`` is installed."""
        if cls._sqlglot_available is None:
            try:
                importlib.import_module("sqlglot")
            except ImportError:
                cls._sqlglot_available = False
            else:
                cls._sqlglot_available = True
        return cls._sqlglot_available

    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Parse the output as SQL."""
        return judged(self.eval_name, self._evaluate, eval_input, kwargs)

    def _evaluate(self, eval_input: EvalInput, **_: Any) -> EvalResult:
        try:
            sqlglot = importlib.import_module("sqlglot")
            errors = importlib.import_module("sqlglot.errors")
        except ImportError as exc:
            raise CannotJudgeError(INSTALL_HINT) from exc
        output = eval_input.model_output.strip()
        dialect = self.config.dialect
        try:
            parsed = sqlglot.parse_one(output, dialect=dialect)
        except errors.ParseError as exc:
            return self._failed(output, str(exc), f"Invalid SQL: {exc}")
        except Exception as exc:  # noqa: BLE001 - sqlglot raises other errors for some inputs; 0.2 failed them too
            message = f"Unexpected error: {type(exc).__name__}: {exc}"
            return self._failed(output, message, message)
        if parsed is None:
            return self._failed(
                output,
                "Parser returned None - possibly empty or invalid SQL",
                "Invalid SQL: Parser returned None",
            )
        suffix = f" (dialect: {dialect})" if dialect else ""
        assertion = AssertionDetail(
            name="sql_parse",
            passed=True,
            expected="Valid SQL query",
            actual="Parsed successfully",
            message=f"Output is valid SQL{suffix}",
        )
        return EvalResult(
            status=EvalStatus.PASSED,
            score=1.0,
            eval_name=self.eval_name,
            message=f"Valid SQL query{suffix}",
            assertions=[assertion] if self.config.include_details else None,
        )

    def _failed(self, output: str, detail: str, message: str) -> EvalResult:
        assertion = AssertionDetail(
            name="sql_parse",
            passed=False,
            expected="Valid SQL query",
            actual=_shortened(output),
            message=detail,
        )
        return EvalResult(
            status=EvalStatus.FAILED,
            score=0.0,
            eval_name=self.eval_name,
            message=message,
            assertions=[assertion] if self.config.include_details else None,
        )
