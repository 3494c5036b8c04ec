"""flush() with an API key and a flush server URL: the local file, then the server, nothing lost.

The flush server is the real local protocol server of ``test_remote``; failures are injected in
it (connection resets, 503s, a used-up quota) and the spool is a real directory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from aiobs import observe, observer
from aiobs.exporters.remote import RemoteUsage
from aiobs.spool import Spool
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
    delivery = observer._remote_delivery()
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
