"""flush() with an API key and a flush server URL: the local file, then the server, nothing lost.

The flush server is the real local protocol server of ``test_remote``; failures are injected in
it (connection resets, 503s, a used-up quota) and the spool is a real directory.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs.delivery.spool import Spool
from aiobs.exporters.remote import RemoteUsage
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
    assert server.documents == {}
    assert len(configured.pending()) == 1
    work(2)
    server.fail(times=1, status=503)  # the spooled one goes through at its second attempt
    assert observer.flush("second.json") == "second.json"
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
    spool = Spool(tmp_path / "spool")
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
    assert len(configured.pending()) == 1  # the client never heard back: kept
    work(2)
    observer.flush("again.json")
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
    assert _stored_function_events(server) == [3]
