"""Evaluating a flushed document: every LLM call and function judged, results as scores.

:func:`evaluate` reads a document (a dict, an :class:`~aiobs.exporters.document.ExportDocument`,
or a flush file: JSON or JSON Lines, gzipped or not), builds one :class:`EvalInput` per LLM call
and per function call that produced an output (the user's last message, the system prompt, the
output text, the latency), runs the evaluators, and returns one :class:`Evaluation` per event
and evaluator, naming the span it judged::

    from aiobs.evals import PIIDetectionEval, RegexAssertion, evaluate

    evaluations = evaluate("run.json", [PIIDetectionEval.default(), RegexAssertion.from_patterns(
        patterns=[r"Paris"])])
    failed = [e for e in evaluations if e.result.failed]

With ``attach=True`` the results are written back as scores (``source: "eval"``): into the
document given (a dict is changed in place), or, with ``collector=observer``, through
``observer.score`` so that they reach the next flush of sessions still recording.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .._format import (
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_SESSIONS,
    DOC_TRACE_TREE,
    EVENT_API,
    EVENT_DURATION_MS,
    EVENT_PROVIDER,
    EVENT_SCORES,
    EVENT_SESSION_ID,
    EVENT_SPAN_ID,
    FUNCTION_ARGS,
    FUNCTION_KIND,
    FUNCTION_KWARGS,
    FUNCTION_NAME,
    FUNCTION_RESULT,
    KIND_EVENT,
    KIND_SPAN,
    LLM_REQUEST,
    LLM_REQUEST_MODEL,
    LLM_RESPONSE,
    NODE_CHILDREN,
    RECORD,
    RECORD_EVENT,
    RECORD_FUNCTION_EVENT,
    RECORD_SESSION,
    RESPONSE_TEXT,
    SESSION_ID,
    SESSION_SCORES,
)
from .._session import make_score
from .base import BaseEval
from .models import EvalInput, EvalResult, EvalStatus

LLM_CALL = "llm"
""":attr:`Evaluation.kind` of an LLM call."""
FUNCTION = "function"
""":attr:`Evaluation.kind` of a function call."""


class Scorer(Protocol):
    """What ``collector=`` needs: ``observer`` (an :class:`aiobs.Collector`) has it."""

    def score(
        self,
        name: str,
        value: float | bool | str,
        *,
        span_id: str | None = ...,
        session_id: str | None = ...,
        comment: str | None = ...,
        evaluator: str | None = ...,
    ) -> str | None:
        """Attach one score (see :meth:`aiobs.Collector.score`)."""


@dataclass(frozen=True)
class Evaluation:
    """One evaluator's result on one recorded event."""

    span_id: str | None
    """The event judged (its ``span_id``)."""
    session_id: str | None
    kind: str
    """:data:`LLM_CALL` or :data:`FUNCTION`."""
    name: str
    """The SDK method (``chat.completions.create``) or the function's name."""
    result: EvalResult
    source: str | None = None
    """The file it was read from, when evaluated from a path."""


def evaluate(
    document: Mapping[str, Any] | Any | str | Path,
    evaluators: Sequence[BaseEval],
    *,
    attach: bool = False,
    collector: Scorer | None = None,
    sample_rate: float = 1.0,
    rng: random.Random | None = None,
) -> list[Evaluation]:
    """Run ``evaluators`` over the LLM calls and functions of a flushed document.

    Args:
        document: a document dict, an ``ExportDocument``, or a flush file's path.
        evaluators: the evaluators; each judges every event (an error result when it cannot).
        attach: write the results back as scores: into ``document`` (a dict, or an
            ``ExportDocument``'s ``data``), or through ``collector.score`` when given. Error and
            skipped results are returned, not attached.
        collector: where attached scores go instead of the document (``observer``).
        sample_rate: the share of events evaluated (each drawn at random), 0 to 1.
        rng: the random source of the sampling (for tests).

    Raises:
        ValueError: the file cannot be read or is not a document, ``attach=True`` with a path
            and no collector, or ``sample_rate`` is out of range.
    """
    if not 0.0 <= sample_rate <= 1.0:
        raise ValueError(f"sample_rate must be between 0 and 1, got {sample_rate!r}")
    source = str(document) if isinstance(document, str | Path) else None
    if source is not None and attach and collector is None:
        raise ValueError(
            "attach=True needs a document to write into: pass the document (read_document("
            "path)) or collector=observer, not a path"
        )
    data = _document_data(document)
    draw = (rng or random).random
    evaluations: list[Evaluation] = []
    for kind, event, eval_input in inputs(data):
        if sample_rate < 1.0 and draw() >= sample_rate:
            continue
        name = str(event.get(FUNCTION_NAME if kind == FUNCTION else EVENT_API) or "")
        evaluations.extend(
            Evaluation(
                span_id=event.get(EVENT_SPAN_ID),
                session_id=event.get(EVENT_SESSION_ID),
                kind=kind,
                name=name,
                result=evaluator(eval_input),
                source=source,
            )
            for evaluator in evaluators
        )
    if attach:
        if collector is not None:
            for evaluation in evaluations:
                _score_through(collector, evaluation)
        else:
            attach_scores(data, evaluations)
    return evaluations


def _document_data(document: Any) -> dict[str, Any]:
    """The dict of a document given as a dict, an ``ExportDocument`` or a path."""
    if isinstance(document, str | Path):
        return read_document(Path(document))
    if isinstance(document, dict):
        return document
    data = getattr(document, "data", None)
    if isinstance(data, dict):
        return data
    raise ValueError(
        f"cannot evaluate a {type(document).__name__}: give a document dict, an "
        "ExportDocument or a flush file's path"
    )


def inputs(document: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any], EvalInput]]:
    """``(kind, event, EvalInput)`` for each LLM call and function call with an output."""
    for event in document.get(DOC_EVENTS) or ():
        eval_input = llm_input(event)
        if eval_input is not None:
            yield LLM_CALL, event, eval_input
    for event in document.get(DOC_FUNCTION_EVENTS) or ():
        eval_input = function_input(event)
        if eval_input is not None:
            yield FUNCTION, event, eval_input


def _metadata(event: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "span_id": event.get(EVENT_SPAN_ID),
        "api": event.get(EVENT_API),
        "provider": event.get(EVENT_PROVIDER),
    }
    duration = event.get(EVENT_DURATION_MS)
    if isinstance(duration, int | float):
        metadata["latency_ms"] = float(duration)
    return metadata


def llm_input(event: Mapping[str, Any]) -> EvalInput | None:
    """An LLM call's input: its last user message, system prompt, answer text and latency."""
    response = event.get(LLM_RESPONSE)
    output = response.get(RESPONSE_TEXT) if isinstance(response, Mapping) else None
    if not isinstance(output, str):
        return None
    request = event.get(LLM_REQUEST)
    request = request if isinstance(request, Mapping) else {}
    user, system = _conversation(request)
    metadata = _metadata(event)
    if event.get(LLM_REQUEST_MODEL):
        metadata["model"] = event[LLM_REQUEST_MODEL]
    return EvalInput(user_input=user, model_output=output, system_prompt=system, metadata=metadata)


def function_input(event: Mapping[str, Any]) -> EvalInput | None:
    """A function call's input: its arguments as text, its result as text, its latency."""
    if event.get(FUNCTION_KIND) in (KIND_EVENT, KIND_SPAN):
        return None
    result = event.get(FUNCTION_RESULT)
    if result is None:
        return None
    args = list(event.get(FUNCTION_ARGS) or ())
    kwargs = dict(event.get(FUNCTION_KWARGS) or {})
    if len(args) == 1 and not kwargs and isinstance(args[0], str):
        user = args[0]
    else:
        user = _text({"args": args, "kwargs": kwargs}) if args or kwargs else ""
    return EvalInput(user_input=user, model_output=_text(result), metadata=_metadata(event))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or parts with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return _content_text(content.get("text") or content.get("parts"))
    if isinstance(content, list):
        return "\n".join(text for part in content if (text := _content_text(part)))
    return ""


def _conversation(request: Mapping[str, Any]) -> tuple[str, str | None]:
    """The last user message and the system prompt of any vendor's request."""
    # Anthropic's system, OpenAI Responses' instructions
    system_parts = [
        _content_text(request[key]) for key in ("system", "instructions") if request.get(key)
    ]
    config = request.get("config")
    if isinstance(config, Mapping) and config.get("system_instruction"):  # Gemini
        system_parts.append(_content_text(config["system_instruction"]))
    messages = request.get("messages") or request.get("contents") or request.get("input")
    user = ""
    if isinstance(messages, str):
        user = messages
    elif isinstance(messages, list):
        for message in messages:
            if not isinstance(message, Mapping):
                if isinstance(message, str):
                    user = message
                continue
            role = message.get("role", "user")
            text = _content_text(message.get("content", message.get("parts")))
            if role in ("system", "developer"):
                system_parts.append(text)
            elif role == "user":
                user = text
    elif request.get("prompt"):
        user = _content_text(request["prompt"])
    return user, "\n".join(part for part in system_parts if part) or None


# -- scores ----------------------------------------------------------------------------------------

_NOT_A_NAME = re.compile(r"[^a-z0-9_.\-]+")


def score_name(eval_name: str) -> str:
    """A score name from an evaluator's name (lowercased; other characters become ``_``)."""
    name = _NOT_A_NAME.sub("_", eval_name.lower()).strip("_")[:63] or "eval"
    return name if name[0].isalpha() else f"eval_{name}"[:63]


def _attachable(evaluation: Evaluation) -> bool:
    return evaluation.result.status in (EvalStatus.PASSED, EvalStatus.FAILED)


def _comment(result: EvalResult) -> str:
    return f"{result.status.value}: {result.message}" if result.message else result.status.value


def score_of(evaluation: Evaluation) -> dict[str, Any]:
    """The score (``SCORE_`` fields) that an evaluation attaches."""
    result = evaluation.result
    return make_score(
        score_name(result.eval_name),
        result.score,
        span_id=evaluation.span_id,
        comment=_comment(result),
        evaluator=result.eval_name,
    )


def _score_through(collector: Scorer, evaluation: Evaluation) -> None:
    if not _attachable(evaluation):
        return
    result = evaluation.result
    collector.score(
        score_name(result.eval_name),
        result.score,
        span_id=evaluation.span_id,
        session_id=evaluation.session_id,
        comment=_comment(result),
        evaluator=result.eval_name,
    )


def attach_scores(document: dict[str, Any], evaluations: Iterable[Evaluation]) -> int:
    """Write evaluations into ``document`` as scores: on their events (and tree nodes).

    An event without a span id gives its score to its session. Returns the scores written.
    """
    by_span: dict[str, list[dict[str, Any]]] = {}
    by_session: dict[str, list[dict[str, Any]]] = {}
    for evaluation in evaluations:
        if not _attachable(evaluation):
            continue
        score = score_of(evaluation)
        if evaluation.span_id:
            by_span.setdefault(evaluation.span_id, []).append(score)
        elif evaluation.session_id:
            by_session.setdefault(evaluation.session_id, []).append(score)
    written = 0
    for key in (DOC_EVENTS, DOC_FUNCTION_EVENTS):
        for event in document.get(key) or ():
            scores = by_span.get(event.get(EVENT_SPAN_ID) or "")
            if scores:
                event[EVENT_SCORES] = [*(event.get(EVENT_SCORES) or ()), *scores]
                written += len(scores)
    for node in _nodes(document.get(DOC_TRACE_TREE) or ()):
        scores = by_span.get(node.get(EVENT_SPAN_ID) or "")
        if scores:
            node[EVENT_SCORES] = [*(node.get(EVENT_SCORES) or ()), *scores]
    for session in document.get(DOC_SESSIONS) or ():
        scores = by_session.get(session.get(SESSION_ID) or "")
        if scores:
            session[SESSION_SCORES] = [*(session.get(SESSION_SCORES) or ()), *scores]
            written += len(scores)
    return written


def _nodes(nodes: Iterable[Any]) -> Iterator[dict[str, Any]]:
    stack = [node for node in nodes if isinstance(node, dict)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in node.get(NODE_CHILDREN) or () if isinstance(child, dict))


# -- reading flush files ---------------------------------------------------------------------------

_LISTS = {RECORD_EVENT: DOC_EVENTS, RECORD_FUNCTION_EVENT: DOC_FUNCTION_EVENTS}


FLUSH_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")


def flush_files(paths: Iterable[Path]) -> list[Path]:
    """The flush files among ``paths``: files as given, directories searched (recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    item
                    for item in path.rglob("*")
                    if item.is_file()
                    and item.name.endswith(FLUSH_SUFFIXES)
                    and not item.name.startswith(".")
                )
            )
        else:
            found.append(path)
    return found


def read_document(path: Path) -> dict[str, Any]:
    """The document in a flush file: JSON or JSON Lines, gzipped or not.

    Raises:
        ValueError: the file cannot be read or holds no aiobs document (the message says which).
    """
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None
    text = raw.decode("utf-8", "replace")
    first = text.lstrip().split("\n", 1)[0]
    try:
        if f'"{RECORD}"' in first:
            return _from_lines(text)
        document = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path}: not an aiobs flush file ({exc})") from None
    if not isinstance(document, dict) or DOC_SESSIONS not in document:
        raise ValueError(f"{path}: not an aiobs flush file (no '{DOC_SESSIONS}' list)")
    return document


def _from_lines(text: str) -> dict[str, Any]:
    """A document from JSON Lines; a session's latest line is its current state."""
    sessions: dict[str, dict[str, Any]] = {}
    lists: dict[str, list[dict[str, Any]]] = {DOC_EVENTS: [], DOC_FUNCTION_EVENTS: []}
    for line in text.split("\n"):
        if not line.strip():
            continue
        item = json.loads(line)
        record = item.pop(RECORD, None)
        if record == RECORD_SESSION:
            sessions[item.get(SESSION_ID)] = item
        elif record in _LISTS:
            lists[_LISTS[record]].append(item)
    return {DOC_SESSIONS: list(sessions.values()), **lists, DOC_TRACE_TREE: None}
