"""Security headers on every response of the web UI (``/``, ``/ui`` and below)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .security import SECURITY_HEADERS


class SecurityHeaders:
    """ASGI middleware: adds the CSP and friends to UI responses; the API is left as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, adding the headers when its path belongs to the UI."""
        path = scope.get("path", "") if scope["type"] == "http" else None
        if path is None or not (path in ("/", "/ui") or path.startswith("/ui/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith("/ui/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if not (static and name == "Cache-Control"):
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
