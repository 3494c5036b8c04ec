"""Keep-alive clients are asked to reconnect every N requests when workers share the port."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from aiobs.server import rebalance
from aiobs.server.app import create_app

from .app_fixtures import sqlite_storage


def test_every_nth_response_of_a_connection_closes_it(tmp_path: Path) -> None:
    storage = sqlite_storage(tmp_path)
    try:
        client = TestClient(create_app(storage, spread_connections=True))
        every = rebalance.REQUESTS_PER_CONNECTION
        answers = [client.get("/health") for _ in range(2 * every)]
        closing = [
            number
            for number, answer in enumerate(answers, 1)
            if answer.headers.get("connection") == "close"
        ]
        assert closing == [every, 2 * every]
        assert all(answer.status_code == 200 for answer in answers)
    finally:
        storage.close()


def test_a_single_process_server_keeps_connections_open(tmp_path: Path) -> None:
    storage = sqlite_storage(tmp_path)
    try:
        client = TestClient(create_app(storage))
        answers = [client.get("/health") for _ in range(rebalance.REQUESTS_PER_CONNECTION + 1)]
        assert not any(answer.headers.get("connection") == "close" for answer in answers)
    finally:
        storage.close()


def test_connections_are_counted_apart_and_the_counts_stay_bounded() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen.append(message["headers"])

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    middleware = rebalance.Rebalance(app, every=2)

    async def requests_from(*ports: int) -> None:
        for port in ports:
            scope = {"type": "http", "client": ("127.0.0.1", port)}
            await middleware(scope, receive, send)

    asyncio.run(requests_from(1, 2, 1, 2))
    assert [(b"connection", b"close") in headers for headers in seen] == [False, False, True, True]
    asyncio.run(requests_from(*range(100, 100 + rebalance.MAX_TRACKED + 5)))
    assert len(middleware._served) <= rebalance.MAX_TRACKED
