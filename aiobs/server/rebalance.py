"""Ask clients to reconnect now and then, so that keep-alive connections spread over workers.

With ``--workers N`` the processes share one listening socket and each keeps the connections it
accepted. A few busy clients on keep-alive connections can all land on one worker and leave the
others idle for as long as they stay connected. Every :data:`REQUESTS_PER_CONNECTION`-th
response on a connection says ``Connection: close``; HTTP clients (the SDK's included) open a
new connection for their next request, which whichever worker is free accepts first.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS_PER_CONNECTION = 25
"""Requests served on one connection before the server asks the client to reconnect."""

MAX_TRACKED = 10_000
"""Connections counted at once; the counts start over beyond it (connections that close by
themselves leave their count behind, and this bounds what they leave)."""


class Rebalance:
    """ASGI middleware: ``Connection: close`` on every N-th response of a connection."""

    def __init__(self, app: ASGIApp, every: int = REQUESTS_PER_CONNECTION) -> None:
        self.app = app
        self.every = every
        self._served: dict[tuple[str, int], int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; on a connection's N-th, close it after the response."""
        client = scope.get("client")
        if scope["type"] != "http" or client is None:
            await self.app(scope, receive, send)
            return
        peer = (client[0], client[1])
        count = self._served.pop(peer, 0) + 1
        if count < self.every:
            if len(self._served) >= MAX_TRACKED:
                self._served.clear()
            self._served[peer] = count
            await self.app(scope, receive, send)
            return

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, closing_send)
