"""One JSON log line per request, and a last guard that turns a crash into a plain 500.

Each line on the ``aiobs.server`` logger carries the method, path, status, duration, bytes in
and out, and the project id once the request authenticated. It never carries headers, query
strings or bodies, so API keys and recorded data stay out of logs.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("aiobs.server")

PROJECT_STATE = "aiobs_project_id"
"""Key of ``request.state`` under which authentication leaves the caller's project id."""

_INTERNAL_ERROR = json.dumps(
    {"success": False, "error": "internal server error; the server log has the details"}
).encode()


class RequestLog:
    """ASGI middleware: logs every HTTP request as JSON and answers 500 for unhandled errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request through the app, then log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        started = time.perf_counter()
        seen = {"status": 500, "out": 0, "in": 0, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            seen["in"] += len(message.get("body", b""))
            return message

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["started"] = True
            elif message["type"] == "http.response.body":
                seen["out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not seen["started"]:
                await _send_internal_error(watching_send)
        if logger.isEnabledFor(logging.INFO):
            record = {
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": seen["status"],
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "bytes_in": seen["in"],
                "bytes_out": seen["out"],
                "project_id": state.get(PROJECT_STATE),
            }
            logger.info(json.dumps(record))


async def _send_internal_error(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_INTERNAL_ERROR)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
