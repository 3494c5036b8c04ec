"""Text that UTF-8 cannot encode never blocks a flush.

A Python string can hold lone surrogates (``os.fsdecode`` makes them of the bytes of a file name
that are not UTF-8); JSON documents cannot. Wherever such a string enters the document, it is
written with each of those characters replaced by U+FFFD and a marker appended, and the other
events of the flush, the later flushes and the exit flush are unaffected.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiobs import observe, observer
from aiobs._current import current_session
from aiobs._records import FunctionInfo, ModelRecord
from aiobs.exporters import ExportResult, FileExporter, InMemoryExporter
from aiobs.models import ObservabilityExport
from aiobs.providers.call import ProviderRecord

BAD = os.fsdecode(b"report-\xff.txt")
"""``'report-\\udcff.txt'``: a file name whose last-but-four byte is not UTF-8."""
MARK = "[aiobs: 1 invalid character replaced]"
FIXED = "report-\ufffd.txt" + MARK
"""What ``BAD`` becomes in the document."""
REPLACED = re.compile(r"\[aiobs: \d+ invalid characters? replaced\]")


@observe
def fine(value: int) -> int:
    return value


@observe
def echo(value: Any) -> Any:
    return value


@observe
def keywords(**values: Any) -> int:
    return len(values)


class FailedError(Exception):
    pass


@observe
def fails(message: str) -> None:
    raise FailedError(message)


class BadRepr:
    def __repr__(self) -> str:
        return f"BadRepr({BAD})"


def flush_ok() -> dict[str, Any]:
    """Flush into memory; the flush must succeed."""
    exporter = InMemoryExporter()
    result = observer.flush(exporter=exporter)
    assert isinstance(result, ExportResult), result
    assert result.success, result
    return exporter.documents[-1]


def function_event(document: dict[str, Any], name: str) -> dict[str, Any]:
    (event,) = [e for e in document["function_events"] if e["name"] == name]
    return event


def bad_name_function() -> None:
    @observe(name=BAD)
    def named() -> None:
        pass

    named()


def bad_code_file() -> None:
    """A call whose caller was compiled from a file whose name is not UTF-8."""
    namespace: dict[str, Any] = {"fine": fine}
    source = "def caller():\n    return fine(7)\n"
    exec(compile(source, f"/tmp/{BAD}", "exec"), namespace)
    namespace["caller"]()


def failing_with_bad_message() -> None:
    with pytest.raises(FailedError):
        fails(BAD)


def bad_module_name() -> None:
    def located() -> None:
        pass

    located.__module__ = BAD
    located.__qualname__ = BAD
    observe(located)()


def span_named_bad() -> None:
    with observer.span(BAD):
        pass


def session_named_bad() -> None:
    with observer.session(BAD):
        fine(5)


def set_bad_attribute() -> None:
    with observer.span("outer") as span:
        span.set(BAD, BAD)


CASES: dict[str, Callable[[], Any]] = {
    "short argument (kept by reference)": lambda: echo(BAD),
    "long argument (snapshot)": lambda: echo(BAD * 100),
    "argument inside a list": lambda: echo([BAD]),
    "argument that looks like it may hold a credential": lambda: echo([f"task-{BAD}"]),
    "keyword that looks like it may hold a credential": lambda: echo(value=f"task-{BAD}"),
    "result that looks like it may hold a credential": lambda: echo(f"Bearer {BAD}"),
    "keyword value": lambda: echo(value=BAD),
    "keyword name (kept by reference)": lambda: keywords(**{BAD: 1}),
    "keyword name (snapshot)": lambda: keywords(**{BAD: [1]}),
    "dict key": lambda: echo({BAD: 1}),
    "repr of an object": lambda: echo(BadRepr()),
    "exception message": failing_with_bad_message,
    "module and qualified name": bad_module_name,
    "function name": bad_name_function,
    "span name": span_named_bad,
    "event name": lambda: observer.event(BAD),
    "event data": lambda: observer.event("evt", path=BAD, **{BAD: 1}),
    "span attributes": set_bad_attribute,
    "callsite file": bad_code_file,
    "label value": lambda: observer.add_label("file", BAD),
    "session name": session_named_bad,
    "0.2 event": lambda: observer._record_event(
        {"provider": "custom", "api": BAD, "request": {BAD: BAD}, "response": BAD}
    ),
}


@pytest.mark.parametrize("record", CASES.values(), ids=CASES.keys())
def test_a_bad_string_anywhere_still_flushes(record: Callable[[], Any]) -> None:
    observer.observe("bad text", labels={"stage": "test"})
    fine(1)
    record()
    fine(2)

    document = flush_ok()

    text = json.dumps(document, ensure_ascii=False)
    assert "\udcff" not in text
    assert "\ufffd" in text
    assert REPLACED.search(text)
    ObservabilityExport.model_validate(document)
    results = [e["result"] for e in document["function_events"] if e["name"] == "fine"]
    assert {1, 2} <= set(results)
    fine(3)  # a later flush works too
    later = flush_ok()
    assert [e["result"] for e in later["function_events"] if e["name"] == "fine"] == [3]


class TestWhereTheReplacementGoes:
    def test_arguments_and_results(self) -> None:
        observer.observe("bad text")
        echo(BAD)
        echo([BAD])
        keywords(**{BAD: BAD})
        keywords(**{BAD: [BAD]})
        document = flush_ok()
        short, listed = [e for e in document["function_events"] if e["name"] == "echo"]
        assert short["args"] == [FIXED]
        assert short["result"] == FIXED
        assert listed["args"] == [[FIXED]]
        assert listed["result"] == [FIXED]
        kept, snapshot = [e for e in document["function_events"] if e["name"] == "keywords"]
        assert kept["kwargs"] == {FIXED: FIXED}
        assert snapshot["kwargs"] == {FIXED: [FIXED]}

    def test_names_labels_and_errors(self) -> None:
        with observer.session(BAD, labels={"file": BAD}):
            with observer.span(BAD, path=BAD):
                observer.event(BAD)
            with pytest.raises(FailedError):
                fails(BAD)
        document = flush_ok()
        (session,) = document["sessions"]
        assert session["name"] == FIXED
        assert session["labels"]["file"] == FIXED
        named = {e["kind"]: e for e in document["function_events"] if e["name"] == FIXED}
        assert set(named) == {"span", "event"}
        assert named["span"]["attributes"] == {"path": FIXED}
        failed = function_event(document, "fails")
        assert failed["error"] == f"FailedError: {FIXED}"
        assert failed["exception"]["message"] == FIXED

    def test_several_characters_are_counted(self) -> None:
        observer.observe("bad text")
        echo("\udc80a\udcffb\ud800")
        (event,) = flush_ok()["function_events"]
        assert event["args"] == ["\ufffda\ufffdb\ufffd[aiobs: 3 invalid characters replaced]"]

    def test_valid_text_is_left_alone(self) -> None:
        observer.observe("good text")
        echo("naïve 数据 \U0001f600")
        (event,) = flush_ok()["function_events"]
        assert event["args"] == ["naïve 数据 \U0001f600"]

    def test_credentials_are_still_hidden(self) -> None:
        observer.observe("bad text")
        key = "sk-proj-" + "Q7wE9rT2yU4iO6pA8sD0fG1h"
        echo(f"{key} {BAD}")
        echo([f"{key} {BAD}"])
        document = flush_ok()
        assert key not in json.dumps(document)
        assert [e["args"] for e in document["function_events"]] == [
            [f"[REDACTED] {FIXED}"],
            [[f"[REDACTED] {FIXED}"]],
        ]


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
markers = st.sampled_from(["sk-", "Bearer ", "AKIA", "eyJ"])  # text searched for credentials
texts = st.lists(st.one_of(st.characters(), surrogates, markers), max_size=40).map("".join)
values = st.recursive(
    st.one_of(st.none(), st.integers(), texts),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(texts, children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(value=values, key=texts, name=st.text(min_size=1).filter(str.strip) | texts.filter(bool))
def test_any_text_flushes(value: Any, key: str, name: str) -> None:
    with observer.session(name, labels={"label": key[:256]}):
        echo(value)
        keywords(**{key: value})
        with observer.span(name, attribute=value):
            observer.event(name, data=value)
    document = flush_ok()
    json.dumps(document, ensure_ascii=False).encode("utf-8")  # no surrogate left anywhere
    assert len(document["function_events"]) == 4
    assert document["sessions"][0]["dropped_events"] == 0


class TestFiles:
    def test_json_file(self, tmp_path: Path) -> None:
        observer.observe("bad text")
        echo(BAD)
        path = tmp_path / "out.json"
        assert observer.flush(path) == str(path)
        document = json.loads(path.read_bytes().decode("utf-8"))
        assert document["function_events"][0]["args"] == [FIXED]

    def test_json_lines_gzipped(self, tmp_path: Path) -> None:
        observer.observe("bad text", labels={"file": BAD})
        echo(BAD)
        path = tmp_path / "out.jsonl.gz"
        assert observer.flush(exporter=FileExporter(path)).success  # type: ignore[union-attr]
        lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
        assert lines[0]["labels"]["file"] == FIXED
        assert lines[1]["args"] == [FIXED]

    def test_the_exit_flush_writes_everything(self, tmp_path: Path) -> None:
        script = (
            "import os\n"
            "from aiobs import observe, observer\n"
            "observer.observe('exit')\n"
            "@observe\n"
            "def echo(value):\n"
            "    return value\n"
            "echo(1)\n"
            "echo(os.fsdecode(b'report-\\xff.txt'))\n"
            "echo(2)\n"
        )
        out = tmp_path / "exit.json"
        env = {**os.environ, "LLM_OBS_OUT": str(out), "AIOBS_FLUSH_AT_EXIT": "1"}
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
        document = json.loads(out.read_bytes())
        assert [e["args"] for e in document["function_events"]] == [[1], [FIXED], [2]]


# -- provider calls -----------------------------------------------------------------------------


@pytest.fixture
def bad_text_vendor() -> Iterator[str]:
    """A local chat-completions endpoint whose answer holds a lone surrogate (a JSON escape)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "gpt-4o-mini",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": f"see {BAD}"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
                }
            ).encode()  # ensure_ascii: the surrogate travels as the escape \udcff
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


class TestProviderCalls:
    def test_a_response_with_a_lone_surrogate(self, bad_text_vendor: str) -> None:
        openai = pytest.importorskip("openai")
        observer.observe("bad text")
        client = openai.OpenAI(base_url=bad_text_vendor, api_key="x", max_retries=0)
        with client:
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
        assert reply.choices[0].message.content == f"see {BAD}"
        fine(1)
        document = flush_ok()
        (event,) = document["events"]
        assert f"see {FIXED}" in json.dumps(event["response"], ensure_ascii=False)
        assert [e["result"] for e in document["function_events"]] == [1]

    def test_a_request_with_a_lone_surrogate(self, bad_text_vendor: str) -> None:
        openai = pytest.importorskip("openai")
        observer.observe("bad text")
        client = openai.OpenAI(base_url=bad_text_vendor, api_key="x", max_retries=0)
        with client, pytest.raises(UnicodeEncodeError):  # the SDK cannot send it either
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": BAD}]
            )
        fine(1)
        document = flush_ok()
        (event,) = document["events"]
        assert event["request"]["messages"] == [{"role": "user", "content": FIXED}]
        assert event["exception"]["type"] == "UnicodeEncodeError"
        assert [e["result"] for e in document["function_events"]] == [1]


# -- a record that cannot be written at all -----------------------------------------------------


class Opaque:
    """Nothing that JSON can hold; capture never keeps such a value, so a record is forged."""


def forge_unwritable_record() -> None:
    """Buffer a record whose kept arguments hold an object no JSON encoder accepts."""
    session = current_session()
    assert session is not None
    info = FunctionInfo(kind="function", name="forged", api="tests.forged")
    record = (info.static, 99, None, 99, 0, 0, None, None, (Opaque(),), None, None, None, None)
    session.buffer.admit(session, record)


class TestUnwritableRecords:
    def test_only_that_record_is_dropped_and_it_is_counted(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        observer.observe("defence")
        fine(1)
        forge_unwritable_record()
        fine(2)
        with caplog.at_level(logging.WARNING, logger="aiobs"):
            document = flush_ok()
        assert [e["name"] for e in document["function_events"]] == ["fine", "fine"]
        assert document["sessions"][0]["dropped_events"] == 1
        assert "could not be written" in caplog.text
        fine(3)
        later = flush_ok()
        assert [e["result"] for e in later["function_events"]] == [3]
        assert later["sessions"][0]["dropped_events"] == 1  # counted once, and kept

    def test_an_event_handed_over_whole(self) -> None:
        observer.observe("defence")
        session = current_session()
        assert session is not None
        fine(1)
        forged = ModelRecord({"provider": "custom", "api": Opaque()}, is_function=False)
        session.buffer.admit(session, forged.as_record())
        broken = ProviderRecord(("openai", "chat"), session.settings.price_table)  # unreadable
        session.buffer.admit(session, broken.as_record())
        observer._record_event({"provider": "custom", "api": "kept"})
        document = flush_ok()
        assert [e["api"] for e in document["events"]] == ["kept"]
        assert [e["result"] for e in document["function_events"]] == [1]
        assert document["sessions"][0]["dropped_events"] == 2

    def test_a_failed_export_does_not_count_it_twice(self) -> None:
        observer.observe("defence")
        forge_unwritable_record()
        fine(1)
        assert not observer.flush(exporter=InMemoryExporter(fail=True)).success  # type: ignore[union-attr]
        document = flush_ok()
        assert document["sessions"][0]["dropped_events"] == 1
        assert [e["result"] for e in document["function_events"]] == [1]
