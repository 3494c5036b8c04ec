"""flush() with an API key and a flush server URL: the local file, then the server, nothing lost.

The flush server is the real local protocol server of ``test_remote``; failures are injected in
it (connection resets, 503s, a used-up quota) and the spool is a real directory.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs.delivery.spool import Spool
from aiobs.exporters.remote import RemoteUsage, idempotency_key
from tests.exporters.test_remote import KEY, FlushServer, server  # noqa: F401 - the fixture


@observe
def work(value: int) -> int:
    return value


@pytest.fixture
def configured(server: FlushServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Spool:  # noqa: F811
    """AIOBS_API_KEY, AIOBS_FLUSH_SERVER_URL and a spool directory set; fast retries."""
    monkeypatch.setenv("AIOBS_API_KEY", KEY)
    monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", server.url)
    monkeypatch.setenv("AIOBS_SPOOL_DIR", str(tmp_path / "spool"))
    observer.observe("delivered")
    delivery = observer._delivery.remote()
    assert delivery is not None
    delivery.exporter.backoff = 0.01
    delivery.exporter.max_attempts = 2
    return delivery.spool


def _stored_function_events(server: FlushServer) -> list[int]:  # noqa: F811
    values = []
    for payload in server.documents.values():
        values.extend(event["result"] for event in json.loads(payload)["function_events"])
    return sorted(values)


def test_nothing_is_sent_without_a_key_and_a_url(
    server: FlushServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", server.url)  # a URL alone is not enough
    observer.observe("local only")
    work(1)
    assert observer.flush("run.json") == "run.json"
    assert server.requests == []


def test_a_flush_writes_locally_and_delivers_to_the_server(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    work(1)
    work(2)
    used_before = server.used
    assert observer.flush("run.json") == "run.json"
    assert observer.wait_for_background_flushes(timeout=10)  # delivery runs in the background
    [stored] = server.documents.values()
    assert stored == Path("run.json").read_bytes()  # the very same document
    assert _stored_function_events(server) == [1, 2]
    assert server.used == used_before + 1  # one session counted
    assert configured.pending() == []


def test_a_server_that_is_down_gets_everything_later_exactly_once(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    work(1)
    server.fail(times=2, reset=True)  # both attempts of the first delivery
    assert observer.flush("first.json") == "first.json"  # the local file does not wait
    assert observer.wait_for_background_flushes(timeout=10)
    assert server.documents == {}
    assert len(configured.pending()) == 1
    work(2)
    server.fail(times=1, status=503)  # the spooled one goes through at its second attempt
    assert observer.flush("second.json") == "second.json"
    assert observer.wait_for_background_flushes(timeout=10)
    assert configured.pending() == []
    assert _stored_function_events(server) == [1, 2]
    assert len(server.documents) == 2


def test_documents_left_by_an_earlier_run_are_delivered(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    work(7)
    observer.flush(persist=False)  # gone locally; only the spool can bring it to the server
    earlier = {"sessions": [], "events": [], "function_events": [], "trace_tree": None}
    earlier |= {"enh_prompt_traces": None, "generated_at": 1.0, "version": 1}
    configured.put(json.dumps(earlier).encode())
    observer.deliver_pending()
    assert list(server.documents.values()) == [json.dumps(earlier).encode()]
    assert configured.pending() == []


def test_a_used_up_quota_is_said_once_and_recording_goes_on(
    server: FlushServer,  # noqa: F811
    configured: Spool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.used = server.limit
    quota = {"status": 429, "body": {"success": False, "usage": server.usage()["usage"]}}
    for value in (1, 2):
        server.fail(**quota)
        work(value)
        assert observer.flush(f"run{value}.json") == f"run{value}.json"
        assert observer.wait_for_background_flushes(timeout=10)
    said = [r.getMessage() for r in caplog.records if "quota" in r.getMessage()]
    assert len(said) == 1
    assert caplog.records[0].levelno >= logging.WARNING
    assert server.documents == {}
    assert configured.pending() == []  # the server will not take them: not spooled
    assert json.loads(Path("run2.json").read_text())["function_events"][0]["result"] == 2


def test_usage_reports_the_keys_quota(server: FlushServer, configured: Spool) -> None:  # noqa: F811
    usage = observer.usage()
    assert usage == RemoteUsage(
        tier="free", used=server.used, limit=server.limit, remaining=990, is_rate_limited=False
    )


def test_usage_needs_a_key_and_a_url() -> None:
    with pytest.raises(ValueError, match="AIOBS_FLUSH_SERVER_URL"):
        observer.usage()


def test_the_server_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        observer.configure(flush_server_url="ftp://example.com")


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_refused_document_is_offered_again_in_the_background(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    observer.configure(delivery_retry_interval=0.2)
    work(1)
    server.fail(times=2, status=503)
    observer.flush("run.json")
    assert len(configured.pending()) == 1
    # no further flush: the background thread offers it again once the server is back
    assert _wait_for(lambda: not configured.pending())
    assert _stored_function_events(server) == [1]


def test_the_background_offers_back_off_while_the_server_is_down(tmp_path: Path) -> None:
    from aiobs.delivery.remote import MAX_RETRY_SECONDS, RemoteDelivery
    from aiobs.exporters.remote import RemoteExporter

    spool = Spool(tmp_path / "backoff")
    delivery = RemoteDelivery(RemoteExporter("http://127.0.0.1:9", KEY), spool)
    assert delivery.next_retry(1.0) is None  # nothing waits
    spool.put(b"{}")
    waits = [delivery.next_retry(1.0) for _ in range(12)]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == MAX_RETRY_SECONDS
    for path in spool.pending():
        Spool.remove(path)
    assert delivery.next_retry(1.0) is None
    spool.put(b"{}")
    assert delivery.next_retry(1.0) == 1.0  # delivered meanwhile: the next outage starts over


def test_a_new_process_delivers_what_an_earlier_one_left_when_its_first_session_starts(
    server: FlushServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AIOBS_API_KEY", KEY)
    monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", server.url)
    spool = Spool.for_destination(tmp_path / "spool", server.url, KEY)
    left = json.dumps({"sessions": [], "events": [], "function_events": [], "version": 1}).encode()
    spool.put(left)
    observer.observe("next run")  # returns at once; the delivery runs in the background
    assert _wait_for(lambda: not spool.pending())
    assert list(server.documents.values()) == [left]


def test_a_server_restarting_in_the_middle_of_an_upload_stores_it_once(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    work(1)
    server.fail(store=True, reset=True)  # stored, then the connection dies before the answer
    observer.flush("run.json")
    assert observer.wait_for_background_flushes(timeout=10)
    assert len(server.posts()) == 2  # the retry carried the same key ...
    assert len({headers["Idempotency-Key"] for headers in server.posts()}) == 1
    assert _stored_function_events(server) == [1]  # ... so it is stored once
    assert configured.pending() == []


def test_a_server_slower_than_the_timeout_stores_the_document_once(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    delivery = observer._delivery.remote()
    assert delivery is not None
    delivery.exporter.timeout = 0.3
    work(1)
    server.fail(times=2, stall=0.6, store=True)  # it stores both, after the client gave up
    observer.flush("run.json")
    assert observer.wait_for_background_flushes(timeout=10)
    assert len(configured.pending()) == 1  # the client never heard back: kept
    work(2)
    observer.flush("again.json")
    assert observer.wait_for_background_flushes(timeout=10)
    assert configured.pending() == []
    assert _wait_for(lambda: len(server.documents) == 2)
    assert _stored_function_events(server) == [1, 2]


FAULTS: list[dict[str, Any]] = [
    {},
    {"reset": True},
    {"status": 500},
    {"status": 503, "retry_after": "0"},
    {"stall": 0.4},
    {"stall": 0.4, "store": True},
    {"store": True, "reset": True},
    {"down": True},
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_through_every_kind_of_failure_each_event_arrives_exactly_once(
    server: FlushServer,  # noqa: F811
    configured: Spool,
    seed: int,
) -> None:
    delivery = observer._delivery.remote()
    assert delivery is not None
    delivery.exporter.timeout = 0.2
    chance = random.Random(seed)
    for value in range(16):
        work(value)
        fault = dict(chance.choice(FAULTS))
        if fault.pop("down", False):
            server.stop()
        elif fault:
            server.fail(times=chance.randint(1, 3), **fault)
        assert observer.flush(f"run{value}.json") == f"run{value}.json"
        assert observer.wait_for_background_flushes(timeout=30)
        server.script.clear()
        if server.httpd is None:
            server.start()
    observer.deliver_pending()
    assert configured.pending() == []
    assert _wait_for(lambda: _stored_function_events(server) == list(range(16)))


def test_a_session_opened_with_a_block_delivers_with_the_key_from_the_environment(
    server: FlushServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIOBS_API_KEY", KEY)
    monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", server.url)
    with observer.session("scoped"):
        work(3)
    assert observer.flush("scoped.json") == "scoped.json"
    assert observer.wait_for_background_flushes(timeout=10)
    assert _stored_function_events(server) == [3]


# -- what the server refuses, and for how long ----------------------------------------------------


def _document(*values: int) -> bytes:
    """A document that an earlier run left, with one function event per value."""
    events = [
        {"name": "work", "result": value, "span_id": f"left-{value}", "session_id": "earlier"}
        for value in values
    ]
    data = {"sessions": [{"id": "earlier"}], "events": [], "function_events": events}
    data |= {"trace_tree": None, "enh_prompt_traces": None, "generated_at": 1.0, "version": 1}
    return json.dumps(data).encode()


def _is(payload: bytes) -> Callable[[bytes], bool]:
    """Matches uploads of exactly this document."""
    return lambda body: body == payload


def _uploads_of(server: FlushServer, payload: bytes) -> int:  # noqa: F811
    key = idempotency_key(payload)
    return sum(headers["Idempotency-Key"] == key for headers in server.posts())


@pytest.mark.parametrize(
    ("status", "says"),
    [(400, "HTTP 400"), (413, "too large"), (422, "HTTP 422")],
)
def test_a_document_refused_for_good_is_set_aside_and_the_next_ones_go_through(
    server: FlushServer,  # noqa: F811
    configured: Spool,
    caplog: pytest.LogCaptureFixture,
    status: int,
    says: str,
) -> None:
    refused = _document(1)
    configured.put(refused)
    server.refuse(_is(refused), status=status, body={"error": "sessions[0].name is wrong"})
    work(2)
    observer.flush("run.json")
    assert observer.wait_for_background_flushes(timeout=10)
    assert _stored_function_events(server) == [2]  # not held up behind the refused one
    assert configured.pending() == []
    [moved] = configured.rejected.glob("*.json")
    assert moved.read_bytes() == refused  # kept byte for byte
    reason = moved.with_name(moved.name + ".reason").read_text()
    assert says in reason
    assert "sessions[0].name is wrong" in reason
    delivery = observer._delivery.remote()
    assert delivery is not None
    assert delivery.rejected == 1
    [said] = [r for r in caplog.records if "refused a document for good" in r.getMessage()]
    assert str(moved) in said.getMessage()
    assert says in said.getMessage()
    assert said.levelno == logging.WARNING
    assert _uploads_of(server, refused) == 1  # a refusal for good is not retried
    work(3)
    observer.flush("again.json")
    assert observer.wait_for_background_flushes(timeout=10)
    assert _stored_function_events(server) == [2, 3]
    assert _uploads_of(server, refused) == 1  # nor offered again


def test_a_spooled_file_that_is_not_a_document_is_set_aside(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    configured.put(b'{"hello": "world"}')
    observer.deliver_pending()
    assert configured.pending() == []
    [moved] = configured.rejected.glob("*.json")
    assert moved.read_bytes() == b'{"hello": "world"}'
    assert server.posts() == []


def test_a_document_the_server_keeps_failing_does_not_hold_up_the_others(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    observer.configure(delivery_retry_interval=0.3)
    stuck = _document(1)
    configured.put(stuck)
    server.refuse(_is(stuck), status=503)  # this document only, at every attempt
    for value in (2, 3, 4):
        work(value)
        observer.flush(f"run{value}.json")
        assert observer.wait_for_background_flushes(timeout=10)
        assert _stored_function_events(server) == list(range(2, value + 1))
    [held] = configured.pending()
    assert held.read_bytes() == stuck  # same bytes, same idempotency key
    assert Spool.attempts(held) >= 1
    tries = _uploads_of(server, stuck)
    assert tries <= 3 * 2  # at most one offer per flush, not one per attempt of the others
    server.rules.clear()  # the server takes it now: the background thread delivers it
    assert _wait_for(lambda: not configured.pending())
    assert _stored_function_events(server) == [1, 2, 3, 4]


def test_when_the_server_is_down_the_documents_keep_their_order(
    server: FlushServer,  # noqa: F811
    configured: Spool,
) -> None:
    server.stop()
    for value in (1, 2, 3):
        work(value)
        observer.flush(f"run{value}.json")
        assert observer.wait_for_background_flushes(timeout=10)
    kept = configured.pending()
    assert len(kept) == 3
    assert [Spool.attempts(path) for path in kept] == [0, 0, 0]  # nobody's own fault
    server.start()
    observer.deliver_pending()
    stored = [
        [
            e["result"]
            for e in json.loads(server.documents[headers["Idempotency-Key"]])["function_events"]
        ]
        for headers in server.posts()
        if headers["Idempotency-Key"] in server.documents
    ]
    assert [values[0] for values in stored if values] == [1, 2, 3]


def test_a_refused_key_keeps_the_documents_and_is_said_once(
    server: FlushServer,  # noqa: F811
    configured: Spool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.refuse(lambda body: True, status=401)
    for value in (1, 2):
        work(value)
        observer.flush(f"run{value}.json")
        assert observer.wait_for_background_flushes(timeout=10)
    assert len(configured.pending()) == 2  # kept for when the key works again
    assert not configured.rejected.exists()
    said = [m for m in caplog.messages if "refused the API key" in m]
    assert len(said) == 1
    assert KEY not in caplog.text
    server.rules.clear()
    observer.deliver_pending()
    assert _stored_function_events(server) == [1, 2]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e999", "soon"])
def test_a_retry_after_that_is_not_a_time_neither_raises_nor_loses_the_document(
    server: FlushServer,  # noqa: F811
    configured: Spool,
    value: str,
) -> None:
    server.fail(status=503, retry_after=value)
    work(1)
    started = time.monotonic()
    assert observer.flush("run.json") == "run.json"
    assert observer.wait_for_background_flushes(timeout=30)
    assert time.monotonic() - started < 5  # the backoff, not a minute
    assert _stored_function_events(server) == [1]
    assert configured.pending() == []


# -- the caller's flush never waits on the server -------------------------------------------------


@pytest.fixture
def defaults(server: FlushServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:  # noqa: F811
    """A key and the server's URL, with the exporter's default timeouts and retries."""
    monkeypatch.setenv("AIOBS_API_KEY", KEY)
    monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", server.url)
    observer.observe("defaults")
    return tmp_path / "spool"


FLUSH_BOUND = 0.5
"""Seconds a flush may take with the flush server down or stalled (measured generously)."""


def test_a_flush_does_not_wait_for_a_server_that_is_down(
    server: FlushServer,  # noqa: F811
    defaults: Path,
) -> None:
    server.stop()
    work(1)
    started = time.perf_counter()
    assert observer.flush("run.json") == "run.json"
    assert time.perf_counter() - started < FLUSH_BOUND
    delivery = observer._delivery.remote()
    assert delivery is not None
    assert len(delivery.spool.pending()) == 1  # kept at once
    server.start()
    observer.deliver_pending()  # the explicit way to wait for the server
    assert _stored_function_events(server) == [1]
    assert delivery.spool.pending() == []


def test_a_flush_does_not_wait_for_a_stalled_server(
    server: FlushServer,  # noqa: F811
    defaults: Path,
) -> None:
    server.fail(stall=2.0)
    work(1)
    started = time.perf_counter()
    assert observer.flush("run.json") == "run.json"
    assert time.perf_counter() - started < FLUSH_BOUND
    work(2)
    started = time.perf_counter()
    assert observer.flush("again.json") == "again.json"  # while the first upload hangs
    assert time.perf_counter() - started < FLUSH_BOUND
    assert observer.wait_for_background_flushes(timeout=30)  # delivered in the background
    assert _stored_function_events(server) == [1, 2]


def _run(script: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        env={**os.environ, "AIOBS_RAISE_INTERNAL_ERRORS": "0", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stderr


EXITING = """
    from aiobs import observe, observer

    @observe
    def work(value):
        return value

    observer.configure(exit_timeout={timeout})
    observer.observe("short")
    work(1)
    observer.flush("out.json")
    work(2)  # left for the exit flush
"""


def test_a_short_program_delivers_before_it_exits(
    server: FlushServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {"AIOBS_API_KEY": KEY, "AIOBS_FLUSH_SERVER_URL": server.url}
    env["AIOBS_SPOOL_DIR"] = str(tmp_path / "spool")
    _run(EXITING.format(timeout=10), env, tmp_path)
    assert _stored_function_events(server) == [1, 2]
    assert Spool.for_destination(tmp_path / "spool", server.url, KEY).pending() == []


def test_at_exit_a_stalled_server_gets_exit_timeout_and_the_rest_waits_for_the_next_run(
    server: FlushServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {"AIOBS_API_KEY": KEY, "AIOBS_FLUSH_SERVER_URL": server.url}
    env["AIOBS_SPOOL_DIR"] = str(tmp_path / "spool")
    server.fail(times=50, stall=20.0)
    started = time.monotonic()
    stderr = _run(EXITING.format(timeout=1.0), env, tmp_path)
    assert time.monotonic() - started < 8  # interpreter start, the flushes, exit_timeout
    assert "wait in" in stderr
    spool = Spool.for_destination(tmp_path / "spool", server.url, KEY)
    assert len(spool.pending()) == 2
    server.script.clear()
    _run("from aiobs import observer; observer.observe('next run')", env, tmp_path)
    assert spool.pending() == []
    assert _stored_function_events(server) == [1, 2]


# -- large documents ------------------------------------------------------------------------------


def test_a_large_flush_is_delivered_in_parts_each_spooled_on_its_own(
    server: FlushServer,  # noqa: F811
    configured: Spool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIOBS_MAX_EVENTS_PER_UPLOAD", "4")
    observer.reset()
    observer.configure(flush_at_exit=False)
    observer.observe("large")
    delivery = observer._delivery.remote()
    assert delivery is not None
    delivery.exporter.backoff = 0.01
    delivery.exporter.max_attempts = 2
    server.refuse(lambda body: b'"result":5' in body, status=503)  # the second part fails
    for value in range(10):
        work(value)
    observer.flush("run.json")
    assert observer.wait_for_background_flushes(timeout=10)
    [waiting] = delivery.spool.pending()  # only the part that was refused
    assert sorted(e["result"] for e in json.loads(waiting.read_bytes())["function_events"]) == [
        4,
        5,
        6,
        7,
    ]
    assert _stored_function_events(server) == [0, 1, 2, 3, 8, 9]
    assert all(
        len(json.loads(document)["function_events"]) <= 4 for document in server.documents.values()
    )
    server.rules.clear()
    observer.deliver_pending()
    assert _stored_function_events(server) == list(range(10))
    assert delivery.spool.pending() == []


def test_without_a_writable_spool_documents_are_delivered_from_memory(
    server: FlushServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    monkeypatch.setenv("AIOBS_SPOOL_DIR", str(tmp_path / "a-file" / "spool"))
    monkeypatch.setenv("AIOBS_API_KEY", KEY)
    monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", server.url)
    observer.observe("no spool")
    work(1)
    started = time.perf_counter()
    assert observer.flush("run.json") == "run.json"
    assert time.perf_counter() - started < FLUSH_BOUND
    assert observer.wait_for_background_flushes(timeout=10)
    assert _stored_function_events(server) == [1]
    assert any("is not writable" in message for message in caplog.messages)
