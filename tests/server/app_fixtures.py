"""Helpers for the app tests: real storages, a real uvicorn on a free port, sample documents."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from aiobs.server.storage import Storage, open_storage


def sqlite_storage(tmp_path: Path) -> Storage:
    """A fresh, migrated SQLite storage in ``tmp_path``."""
    return open_storage(f"sqlite:///{tmp_path}/s.db")


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 and a free port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def session(
    name: str = "run",
    *,
    started_at: float = 1_767_225_600.0,
    labels: dict[str, str] | None = None,
    session_id: str | None = None,
) -> dict[str, Any]:
    """A session record as the SDK writes it."""
    return {
        "id": session_id or str(uuid.uuid4()),
        "name": name,
        "started_at": started_at,
        "ended_at": started_at + 2.0,
        "meta": {"pid": 1, "cwd": "/app"},
        "labels": labels or {},
    }


def llm_event(
    session_id: str,
    *,
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    started_at: float = 1_767_225_600.5,
    duration_ms: float = 120.0,
    error: str | None = None,
) -> dict[str, Any]:
    """A provider call as the SDK writes it."""
    return {
        "provider": provider,
        "api": "chat.completions.create",
        "request": {"model": model, "messages": [{"role": "user", "content": "hi"}]},
        "response": {"text": "hello", "model": model},
        "error": error,
        "started_at": started_at,
        "ended_at": started_at + duration_ms / 1000,
        "duration_ms": duration_ms,
        "span_id": uuid.uuid4().hex[:16],
        "parent_span_id": None,
        "session_id": session_id,
        "request_model": model,
        "response_model": model,
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
    }


def said(session_id: str, prompt: str, answer: str = "fine", **extra: Any) -> dict[str, Any]:
    """An LLM call whose prompt and answer are the given texts."""
    event = llm_event(session_id, **extra)
    event["request"]["messages"] = [{"role": "user", "content": prompt}]
    event["response"]["text"] = answer
    return event


def function_event(
    session_id: str, *, name: str = "step", started_at: float = 1_767_225_600.2
) -> dict[str, Any]:
    """An ``@observe``d call as the SDK writes it."""
    return {
        "provider": "function",
        "api": f"app.{name}",
        "name": name,
        "module": "app",
        "args": [1],
        "kwargs": None,
        "result": 2,
        "error": None,
        "started_at": started_at,
        "ended_at": started_at + 0.01,
        "duration_ms": 10.0,
        "span_id": uuid.uuid4().hex[:16],
        "parent_span_id": None,
        "session_id": session_id,
    }


def document(
    sessions: list[dict[str, Any]],
    events: list[dict[str, Any]] | None = None,
    function_events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An export document holding these records."""
    return {
        "sessions": sessions,
        "events": events or [],
        "function_events": function_events or [],
        "trace_tree": None,
        "enh_prompt_traces": None,
        "generated_at": 1_767_225_700.0,
        "version": 1,
    }


def body(doc: dict[str, Any], *, gzipped: bool = False) -> bytes:
    """The upload bytes of ``doc``."""
    raw = json.dumps(doc).encode()
    return gzip.compress(raw) if gzipped else raw


class Lines(logging.Handler):
    """Collects the messages of a logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def captured_server_log() -> Iterator[Lines]:
    """Every message of the ``aiobs.server`` logger while the block runs."""
    logger = logging.getLogger("aiobs.server")
    handler = Lines()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
