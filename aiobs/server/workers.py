"""``aiobs server`` as one or more worker processes built from the same settings.

uvicorn starts each worker as a fresh interpreter that imports the app by name; it cannot be handed
an app object. ``aiobs server`` therefore writes its :class:`ServerSettings` into the environment
variable :data:`SETTINGS_VARIABLE`, and every worker builds its own app from them with
:func:`app_from_environment`: its own storage connections, key cache and group-commit writer. The
workers share one listening socket; on SQLite they take turns to write (see
:mod:`.storage.filelock`), on PostgreSQL the database server arbitrates.

:func:`run` starts them. It binds the shared socket itself rather than through ``uvicorn.run``:
uvicorn creates that socket without naming the protocol, so asyncio does not switch Nagle's
algorithm off on the connections the workers accept, and every keep-alive response after the
first waits about 40 ms for the client's delayed acknowledgement (uvicorn issue 3149).
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import json
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from .app import create_app
from .connections import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    PROTOCOL,
)
from .limits import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_EVENTS, DEFAULT_MEMORY_BYTES, UploadLimits
from .storage import Quotas, open_storage

SETTINGS_VARIABLE = "AIOBS_SERVER_SETTINGS"
"""Where ``aiobs server`` leaves the settings for its worker processes (JSON)."""

APP_FACTORY = "aiobs.server.workers:app_from_environment"
"""The name uvicorn imports in each worker."""

STARTUP_FAILURE = 3
"""Exit status of ``aiobs server`` when it could not start serving (as uvicorn's own)."""

DEFAULT_KEEP_ALIVE_TIMEOUT = 5
"""Seconds a kept-alive connection may wait for its next request (uvicorn's default)."""

DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT = 30
"""Seconds the requests in flight get to finish when the server is stopped."""

SWITCH_INTERVAL = 0.001
"""Seconds a worker's thread runs Python before it must let another thread have the interpreter.

The writer thread holds the database's write turn, which every worker waits for, and between two
statements it needs the interpreter lock back; a request thread parsing a document holds that
lock until the switch interval runs out (5 ms by default, several times a statement's own time),
so every other upload of every worker waited with it. At 1 ms the flush server stored 5-15% more
events per second and its p99 latency was lower (``bench/bench_server.py``, pairs alternated with
5 ms; see docs/performance.md); the cost is more frequent switching."""

RESERVED_DESCRIPTORS = 64
"""File descriptors kept for the database, logs and the listening socket, beyond connections."""

logger = logging.getLogger("aiobs.server")


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """Everything a worker process needs to build the app."""

    db: str
    quota_limits: dict[str, int | None]
    period: str
    max_body_bytes: int
    max_document_bytes: int
    log_level: str = "info"
    workers: int = 1
    max_events_per_upload: int = DEFAULT_MAX_EVENTS
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    ingest_memory_bytes: int = DEFAULT_MEMORY_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    graceful_shutdown_timeout: int = DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT

    def to_json(self) -> str:
        """The settings as one line of JSON."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        """Settings written by :meth:`to_json`.

        Raises:
            ValueError: ``text`` is not such settings.
        """
        try:
            fields: dict[str, Any] = json.loads(text)
            return cls(**fields)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{SETTINGS_VARIABLE} does not hold server settings: {exc}") from exc

    @property
    def quotas(self) -> Quotas:
        """The trace quotas these settings describe."""
        return Quotas(self.quota_limits, self.period)  # type: ignore[arg-type]

    @property
    def limits(self) -> UploadLimits:
        """The upload limits these settings describe."""
        return UploadLimits(
            max_body_bytes=self.max_body_bytes,
            max_document_bytes=self.max_document_bytes,
            max_events=self.max_events_per_upload,
            body_timeout=self.body_timeout,
            memory_bytes=self.ingest_memory_bytes,
        )


def app_from_environment() -> FastAPI:
    """The app of one worker process, built from :data:`SETTINGS_VARIABLE`.

    The app closes its storage when the worker shuts down.

    Raises:
        RuntimeError: the variable is not set (the factory is meant for ``aiobs server``).
    """
    text = os.environ.get(SETTINGS_VARIABLE)
    if not text:
        raise RuntimeError(
            f"{SETTINGS_VARIABLE} is not set: start the server with `aiobs server`, or build the"
            " app yourself with aiobs.server.app.create_app"
        )
    settings = ServerSettings.from_json(text)
    sys.setswitchinterval(SWITCH_INTERVAL)
    configure_logging(settings.log_level)
    storage = open_storage(settings.db, settings.quotas)
    app = create_app(storage, limits=settings.limits, spread_connections=settings.workers > 1)

    @asynccontextmanager
    async def close_storage_at_shutdown(_: FastAPI) -> AsyncIterator[None]:
        yield
        storage.close()

    app.router.lifespan_context = close_storage_at_shutdown
    _settle_startup_objects()
    return app


def _settle_startup_objects() -> None:
    """Keep the objects made at startup out of the garbage collector's full passes.

    A worker starts with some 70,000 objects (the imported modules, the app, its schemas) that
    live as long as it does. Python's full collection walks them all, about every 400 uploads,
    for 35-75 ms with the interpreter lock held, while that worker's writer may be holding the
    write turn every worker waits for: those pauses made most of the flush server's slowest
    uploads. Frozen, they are left alone, and a full pass takes about 5 ms
    (``bench/bench_server.py``, p99 latency 50-57 ms before, 31-37 ms after). What an upload
    allocates is still collected as before.
    """
    gc.collect()
    gc.freeze()


class TCPConfig(uvicorn.Config):
    """The settings of uvicorn, with a listening socket that says it speaks TCP.

    The ``aiobs_*`` attributes are the connection limits of :mod:`.connections`; the config is
    pickled into each worker process with them.
    """

    aiobs_header_timeout: float = DEFAULT_HEADER_TIMEOUT
    aiobs_max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    aiobs_max_connections: int = DEFAULT_MAX_CONNECTIONS

    def bind_socket(self) -> socket.socket:
        """The listening socket, re-wrapped with ``IPPROTO_TCP`` if it came without a protocol."""
        bound = super().bind_socket()
        if bound.family in (socket.AF_INET, socket.AF_INET6) and bound.proto == 0:
            # accepted connections copy this, and asyncio sets TCP_NODELAY only for TCP ones
            tcp = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, bound.detach())
            tcp.set_inheritable(True)
            return tcp
        return bound


def run(settings: ServerSettings, host: str, port: int) -> int:
    """Serve ``settings`` on ``host:port`` with ``settings.workers`` processes until stopped.

    Returns:
        The exit status: 0, or 3 when the server could not start (the port is taken, say;
        uvicorn has logged why).
    """
    workers = settings.workers
    os.environ[SETTINGS_VARIABLE] = settings.to_json()
    config = TCPConfig(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
        http=PROTOCOL,
        timeout_keep_alive=settings.keep_alive_timeout,
        timeout_graceful_shutdown=settings.graceful_shutdown_timeout,
        h11_max_incomplete_event_size=DEFAULT_MAX_HEADER_BYTES,
    )
    config.aiobs_header_timeout = settings.header_timeout
    config.aiobs_max_connections = connection_limit(settings.max_connections)
    server = uvicorn.Server(config)
    if workers == 1:
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    sockets = [config.bind_socket()]
    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn releases
        Multiprocess(config, target=server.run, sockets=sockets).run()  # type: ignore[call-arg]
    else:
        Multiprocess(config, sockets=sockets).run()
    return 0


def connection_limit(wanted: int) -> int:
    """``wanted``, or fewer if the file descriptors a process may open leave less room.

    A connection beyond what the descriptors allow cannot even be accepted, so the limit that
    closes idle connections to make room must come first (see :mod:`.connections`).
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or wanted <= soft - RESERVED_DESCRIPTORS:
        return wanted
    room = max(soft - RESERVED_DESCRIPTORS, 1)
    logger.warning(
        "--max-connections %d is more than the open-file limit (%d, see ulimit -n) leaves room "
        "for: at most %d connections",
        wanted,
        soft,
        room,
    )
    return room


def configure_logging(level: str) -> None:
    """JSON request lines of ``aiobs.server`` on stderr, as they are; set up once per process."""
    logger = logging.getLogger("aiobs.server")
    logger.setLevel(level.upper())
    logger.propagate = False
    if not any(getattr(handler, "aiobs_server", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.aiobs_server = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
