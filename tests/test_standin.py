"""The stand-in server itself: routing, scripted failures, delays and resets."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from aiobs.standin import Reply, Request, StandinServer


def _post(server: StandinServer, path: str, body: object, timeout: float = 5) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request("POST", path, json.dumps(body), {"content-type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _echo(request: Request) -> Reply | None:
    if request.path != "/echo":
        return None
    return Reply.json({"got": request.json(), "query": request.query})


def test_requests_reach_the_handler_that_owns_the_path() -> None:
    with StandinServer([_echo]) as server:
        status, body = _post(server, "/echo?x=1", {"a": 1})
        assert status == 200
        assert json.loads(body) == {"got": {"a": 1}, "query": {"x": ["1"]}}
        assert server.requests[0].path == "/echo"
        assert server.requests[0].headers["content-type"] == "application/json"
        status, body = _post(server, "/elsewhere", {})
        assert status == 404
        assert b"no route for POST /elsewhere" in body


def test_scripted_replies_come_first_in_order() -> None:
    with StandinServer([_echo]) as server:
        server.fail_next(Reply.error(429, "slow down"), Reply.error(500))
        first = _post(server, "/echo", {})
        second = _post(server, "/echo", {})
        third = _post(server, "/echo", {})
        assert (first[0], second[0], third[0]) == (429, 500, 200)
        assert json.loads(first[1])["error"]["message"] == "slow down"


def test_server_sent_events_are_sent_one_by_one() -> None:
    events = [b"data: 1\n\n", b"data: 2\n\n"]
    with StandinServer([lambda request: Reply.sse(events)]) as server:
        status, body = _post(server, "/any", {})
        assert status == 200
        assert body == b"data: 1\n\ndata: 2\n\n"


def test_a_delayed_reply_times_the_client_out() -> None:
    with StandinServer([_echo]) as server:
        server.fail_next(Reply(delay=1.0))
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            _post(server, "/echo", {}, timeout=0.2)
        assert time.monotonic() - start < 0.9


def test_a_reset_drops_the_connection_without_a_reply() -> None:
    with StandinServer([_echo]) as server:
        server.fail_next(Reply(reset=True))
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            _post(server, "/echo", {})
        assert _post(server, "/echo", {})[0] == 200  # the server itself carries on
