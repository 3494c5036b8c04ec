"""The HTTP side of the stand-in: requests in, scripted or vendor-shaped replies out."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """A request the stand-in received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class Reply:
    """What the stand-in sends back.

    ``events`` makes a server-sent-event stream: each item is one complete event (already
    formatted, ending in a blank line), sent and flushed on its own, ``event_delay`` seconds
    apart. ``delay`` waits before anything is sent. ``reset`` closes the connection without a
    reply; ``reset_after_events`` closes it in the middle of a stream.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[bytes] | None = None
    delay: float = 0.0
    event_delay: float = 0.0
    reset: bool = False
    reset_after_events: int | None = None

    @classmethod
    def json(cls, body: Any, status: int = 200, **options: Any) -> Reply:
        """A JSON reply."""
        return cls(status=status, body=body, **options)

    @classmethod
    def sse(cls, events: Iterable[bytes], **options: Any) -> Reply:
        """A server-sent-event stream of pre-formatted events."""
        return cls(events=list(events), **options)

    @classmethod
    def error(cls, status: int, message: str = "stand-in error", **options: Any) -> Reply:
        """An error in the common JSON shape (``{"error": {"message", "type", "code"}}``).

        Vendor modules give replies in their own shapes; this one is understood by all three
        SDKs well enough to raise their status-specific exception.
        """
        headers = dict(options.pop("headers", {}))
        if status == 429:
            headers.setdefault("retry-after", "0")
        body = {
            "type": "error",
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(status, "api_error"),
                "code": status,
                "status": _ERROR_TYPES.get(status, "api_error"),
            },
        }
        return cls(status=status, body=body, headers=headers, **options)


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
}

Handler = Callable[[Request], "Reply | None"]
"""A vendor's routes: the reply for a request, or ``None`` when the path is not its own."""


def sse_event(data: Any, event: str | None = None) -> bytes:
    """One server-sent event carrying ``data`` as JSON (or as given, when it is a string)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


class StandinServer:
    """The stand-in HTTP server (see the package docs); a context manager that starts it."""

    def __init__(self, handlers: Iterable[Handler] | None = None, host: str = "127.0.0.1") -> None:
        if handlers is None:
            from . import anthropic, gemini, openai

            handlers = (openai.handle, anthropic.handle, gemini.handle)
        self.handlers = list(handlers)
        self.requests: list[Request] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _QuietServer((host, 0), _make_handler(self))
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (chosen by the system)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        """The ``base_url`` for OpenAI clients."""
        return f"{self.url}/v1"

    @property
    def anthropic_url(self) -> str:
        """The ``base_url`` for Anthropic clients."""
        return self.url

    @property
    def gemini_url(self) -> str:
        """The ``base_url`` for google-genai clients (``HttpOptions(base_url=...)``)."""
        return self.url

    def start(self) -> StandinServer:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # stop() waits for at most one poll
                name="aiobs-standin",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------------

    def fail_next(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, instead of the normal ones."""
        with self._lock:
            self._script.extend(replies)

    def reply_for(self, request: Request) -> Reply:
        """The scripted reply if one is queued, else the vendor handler's, else a 404."""
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.popleft()
        for handler in self.handlers:
            reply = handler(request)
            if reply is not None:
                return reply
        return Reply.error(404, f"the stand-in has no route for {request.method} {request.path}")


class _QuietServer(ThreadingHTTPServer):
    """The standard threading server, minus the traceback it prints when a client hangs up."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore: clients that time out or close streams early are part of the tests."""


def _make_handler(server: StandinServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed acknowledgement hold each reply back by about 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            """Log nothing: tests and the demo print their own output."""

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={key.lower(): value for key, value in self.headers.items()},
                body=body,
            )
            _send(self, server.reply_for(request))

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - stdlib naming

    return _Handler


def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    if reply.delay:
        time.sleep(reply.delay)
    if reply.reset:
        _reset(handler)
        return
    handler.send_response(reply.status)
    headers: Mapping[str, str] = reply.headers
    for key, value in headers.items():
        handler.send_header(key, value)
    if reply.events is not None:
        _send_events(handler, reply)
        return
    payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
    if "content-type" not in {key.lower() for key in headers}:
        handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(payload)))
    handler.end_headers()
    try:
        handler.wfile.write(payload)
    except OSError:
        return


def _send_events(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """A server-sent-event stream in chunked transfer encoding, as the vendors send it.

    Chunked framing is what lets a client tell a stream cut short (``reset_after_events``: no
    final empty chunk) from one that ended.
    """
    handler.send_header("content-type", "text/event-stream")
    handler.send_header("cache-control", "no-cache")
    handler.send_header("transfer-encoding", "chunked")
    handler.end_headers()
    events = reply.events or []
    for index, event in enumerate(events):
        if reply.reset_after_events is not None and index >= reply.reset_after_events:
            _reset(handler)
            return
        if reply.event_delay and index:
            time.sleep(reply.event_delay)
        try:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            handler.wfile.flush()
        except OSError:
            return
    with contextlib.suppress(OSError):
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Drop the connection at once (a reset where the platform allows it)."""
    with contextlib.suppress(OSError):
        handler.wfile.flush()
    with contextlib.suppress(OSError):  # linger on, zero seconds: closing sends a reset
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)


_LINGER_RESET = struct.pack("ii", 1, 0)
