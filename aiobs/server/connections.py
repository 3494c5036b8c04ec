"""The connections of ``aiobs server``: a deadline for headers, a cap on their size and number.

uvicorn closes a keep-alive connection that stays idle after a response (``timeout_keep_alive``),
but it keeps a connection that never sends a request, or sends its headers a byte at a time, for
as long as the client likes, and it accepts every connection it is offered: 20,000 idle sockets
use up the process's file descriptors, and then nobody is served, ``/health`` included.
:class:`GuardedHttpTools` (and :class:`GuardedH11` where httptools is missing) are uvicorn's own
HTTP protocols with three additions:

* a request's headers must be complete :attr:`Guard.header_timeout` seconds after the
  connection opened, or after the first byte of a later request on a kept-alive connection
  (HTTP 408, then the connection is closed);
* headers larger than :attr:`Guard.max_header_bytes` are refused (HTTP 431; uvicorn's httptools
  parser has no such limit);
* a response sent before its request's body was all read (a refusal) closes the connection;
* at most :attr:`Guard.max_connections` connections are open in one process: a new connection
  beyond that closes the connection that has been idle (waiting for a request) the longest, or
  itself when every connection is busy with a request. Clients that send their request at once
  are not the ones closed, so ``/health`` keeps answering while idle sockets come and go.

``aiobs server`` passes the settings on its uvicorn config (see :mod:`.workers`); with a plain
``uvicorn.Config`` the defaults apply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("aiobs.server")

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a request's headers may take to arrive."""

DEFAULT_MAX_HEADER_BYTES = 64 * 1024
"""Bytes of request line and headers accepted."""

DEFAULT_MAX_CONNECTIONS = 1000
"""Connections open at once in one server process."""

WARNING_INTERVAL = 60.0
"""Seconds between two warnings that idle connections were closed to make room."""


def _answer(status: bytes, message: bytes) -> bytes:
    """A whole HTTP response that closes the connection, for refusals before any request."""
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: "
        + str(len(message)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + message
    )


_TIMEOUT_ANSWER = _answer(b"408 Request Timeout", b"the request headers did not come in time")
_TOO_LARGE_ANSWER = _answer(
    b"431 Request Header Fields Too Large", b"the request headers are too large"
)


class Guard:
    """The connections of one server process and the limits they are held to."""

    def __init__(self, header_timeout: float, max_header_bytes: int, max_connections: int) -> None:
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self.max_connections = max_connections
        self.open: set[Any] = set()
        self._idle: dict[Any, None] = {}  # in the order they became idle: the longest idle first
        self._closed_for_room = 0
        self._warned_at = -WARNING_INTERVAL

    @classmethod
    def of(cls, server_state: Any, config: Any) -> Guard:
        """The guard of the server whose state is ``server_state``, made at its first connection."""
        guard: Guard | None = getattr(server_state, "aiobs_guard", None)
        if guard is None:
            guard = cls(
                getattr(config, "aiobs_header_timeout", DEFAULT_HEADER_TIMEOUT),
                getattr(config, "aiobs_max_header_bytes", DEFAULT_MAX_HEADER_BYTES),
                getattr(config, "aiobs_max_connections", DEFAULT_MAX_CONNECTIONS),
            )
            server_state.aiobs_guard = guard
        return guard

    def opened(self, connection: Any) -> None:
        """Count a new (idle) connection; make room if there are too many."""
        self.open.add(connection)
        self.idle(connection)
        while len(self.open) > self.max_connections:
            oldest = next((other for other in self._idle if other is not connection), None)
            victim = connection if oldest is None else oldest
            self.closed(victim)
            victim.transport.close()
            self._closed_for_room += 1
            if victim is connection:
                break
        if self._closed_for_room:
            self._warn()

    def idle(self, connection: Any) -> None:
        """``connection`` waits for a request (again): it is now the one idle the shortest."""
        self._idle.pop(connection, None)
        self._idle[connection] = None

    def busy(self, connection: Any) -> None:
        """``connection`` is serving a request."""
        self._idle.pop(connection, None)

    def closed(self, connection: Any) -> None:
        """Forget ``connection``."""
        self.open.discard(connection)
        self._idle.pop(connection, None)

    def _warn(self) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARNING_INTERVAL:
            logger.warning(
                "more than %d connections: closed %d idle ones to make room (limit: "
                "aiobs server --max-connections)",
                self.max_connections,
                self._closed_for_room,
            )
            self._warned_at = now
            self._closed_for_room = 0


class _Guarded:
    """What :class:`GuardedHttpTools` and :class:`GuardedH11` add to uvicorn's protocol."""

    # set by uvicorn's protocol classes, which these are mixed into
    transport: asyncio.Transport
    cycle: Any
    config: Any
    server_state: Any
    loop: asyncio.AbstractEventLoop

    _guard: Guard
    _header_timer: asyncio.TimerHandle | None
    _header_bytes: int

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Accept the connection and start waiting for its first request's headers."""
        super().connection_made(transport)  # type: ignore[misc]
        self._guard = Guard.of(self.server_state, self.config)
        self._header_bytes = 0
        self._header_timer = None
        self._start_header_timer()
        self._guard.opened(self)

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does; count header bytes and start the header deadline."""
        waiting = self._between_requests()
        if waiting and self._header_timer is None:
            self._start_header_timer()  # the first byte of a request on a kept-alive connection
        before = self.cycle
        super().data_received(data)  # type: ignore[misc]
        if self.cycle is not before:  # a request's headers are complete
            self._cancel_header_timer()
            self._header_bytes = 0
            self._guard.busy(self)
        elif waiting and self._between_requests() and not self.transport.is_closing():
            self._header_bytes += len(data)  # all of it is headers: they are still incomplete
            if self._header_bytes > self._guard.max_header_bytes:
                self._answer_and_close(_TOO_LARGE_ANSWER)

    def on_response_complete(self) -> None:
        """The response is sent: the connection waits for the next request, or is closed.

        uvicorn's keep-alive timeout applies until the next request's first byte, the header
        timeout from then on. A response sent before its request's body was all read (a 401,
        413 or 503) closes the connection: the rest of the body is not wanted, and a client
        could otherwise send it a byte at a time with no deadline at all.
        """
        super().on_response_complete()  # type: ignore[misc]
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.more_body:
            self._guard.closed(self)
            self.transport.close()
        elif self._between_requests():
            self._header_bytes = 0
            self._guard.idle(self)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection."""
        self._cancel_header_timer()
        self._guard.closed(self)
        super().connection_lost(exc)  # type: ignore[misc]

    def _between_requests(self) -> bool:
        cycle = self.cycle
        return cycle is None or (cycle.response_complete and not cycle.more_body)

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(
            self._guard.header_timeout, self._headers_too_slow
        )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._between_requests() and not self.transport.is_closing():
            if self._header_bytes:
                self._answer_and_close(_TIMEOUT_ANSWER)
            else:
                self.transport.close()

    def _answer_and_close(self, answer: bytes) -> None:
        self._cancel_header_timer()
        self._guard.closed(self)
        self.transport.write(answer)
        self.transport.close()


class GuardedH11(_Guarded, H11Protocol):
    """uvicorn's h11 protocol with the header deadline, header size and connection limits."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools comes with aiobs[server]
    GuardedProtocol: type[asyncio.Protocol] = GuardedH11
else:

    class GuardedHttpTools(_Guarded, HttpToolsProtocol):
        """uvicorn's httptools protocol with the header deadline, header and connection limits."""

    GuardedProtocol = GuardedHttpTools

PROTOCOL = "aiobs.server.connections:GuardedProtocol"
"""The ``http`` setting of uvicorn that serves with these limits (httptools if installed)."""
