"""Names are searched for credentials like values: sessions, labels, spans, events, functions."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from aiobs import Redaction, observe, observer
from aiobs.exporters import FileExporter
from tests.helpers import flush_document

KEY = "sk-proj-" + "Q7wE9rT2yU4iO6pA8sD0fG1h"
TOKEN = "Bearer " + "k3y.T0ken-value_~+/xyz=="


def leaks(document: Any, *secrets: str) -> list[str]:
    text = json.dumps(document)
    return [secret for secret in secrets if secret in text]


def test_session_name_and_label_values() -> None:
    with observer.session(f"run with {KEY}", labels={"auth": TOKEN, "plain": "kept"}):
        observer.add_label("later", f"key={KEY}")
    document = flush_document()
    (session,) = document["sessions"]
    assert session["name"] == "run with [REDACTED]"
    assert session["labels"]["auth"] == "[REDACTED]"
    assert session["labels"]["later"] == "key=[REDACTED]"
    assert session["labels"]["plain"] == "kept"
    assert leaks(document, KEY, TOKEN) == []


def test_span_event_and_function_names() -> None:
    @observe(name=f"call {KEY}")
    def named() -> int:
        return 1

    observer.observe("names")
    with observer.span(f"span {TOKEN}"):
        observer.event(f"event {KEY}")
        named()
        named()
    document = flush_document()
    assert sorted(e["name"] for e in document["function_events"]) == [
        "call [REDACTED]",
        "call [REDACTED]",
        "event [REDACTED]",
        "span [REDACTED]",
    ]
    spans = [e for e in document["function_events"] if e.get("kind") == "span"]
    assert spans[0]["api"] == "span [REDACTED]"
    assert leaks(document, KEY, TOKEN) == []
    assert leaks(document["trace_tree"], KEY, TOKEN) == []


def test_extra_patterns_apply_to_names() -> None:
    observer.configure(redaction=Redaction(extra_patterns=[r"\d{3}-\d{2}-\d{4}"]))
    with observer.session("customer 123-45-6789", labels={"ssn": "123-45-6789"}):
        observer.event("lookup 123-45-6789")
    document = flush_document()
    assert leaks(document, "123-45-6789") == []
    assert document["sessions"][0]["name"] == "customer [REDACTED]"


def test_redaction_off_keeps_names() -> None:
    observer.configure(redaction=Redaction(enabled=False))
    with observer.session(f"run {KEY}"):
        observer.event(f"event {KEY}")
    document = flush_document()
    assert document["sessions"][0]["name"] == f"run {KEY}"
    assert document["function_events"][0]["name"] == f"event {KEY}"


def test_json_lines_session_lines(tmp_path: Path) -> None:
    path = tmp_path / "names.jsonl.gz"
    with observer.session(f"run {KEY}", labels={"auth": TOKEN}):
        observer.event(f"event {KEY}")
    assert observer.flush(exporter=FileExporter(path)).success  # type: ignore[union-attr]
    content = gzip.decompress(path.read_bytes()).decode()
    assert KEY not in content
    assert TOKEN not in content
    session = json.loads(content.splitlines()[0])
    assert session["name"] == "run [REDACTED]"
    assert session["labels"]["auth"] == "[REDACTED]"
