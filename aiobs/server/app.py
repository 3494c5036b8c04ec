"""The flush server's HTTP app: ingest, usage, the query API and a health check.

::

    from aiobs.server.app import create_app
    from aiobs.server.storage import open_storage

    app = create_app(open_storage("sqlite:///aiobs-server.db"))
    # uvicorn.run(app, host="127.0.0.1", port=8080) -- or simply: aiobs server

See ``docs/server.md`` for the routes, limits and logs.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .._version import __version__
from .auth import CACHE_SECONDS, KeyCache
from .deps import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DOCUMENT_BYTES, ServerState, server_state
from .errors import install_error_handlers
from .logs import RequestLog
from .models import HealthResponse
from .protocol import router as protocol_router
from .queries import router as query_router
from .rebalance import Rebalance
from .storage import Storage

logger = logging.getLogger("aiobs.server")

TITLE = "aiobs flush server"


def create_app(
    storage: Storage,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    key_cache_seconds: float = CACHE_SECONDS,
    spread_connections: bool = False,
) -> FastAPI:
    """The app serving ``storage``; the caller opens the storage and closes it after use.

    Args:
        storage: a migrated storage (see :func:`aiobs.server.storage.open_storage`).
        max_body_bytes: largest request body accepted, as sent.
        max_document_bytes: largest export document accepted once decompressed.
        key_cache_seconds: how long a successful authentication is reused; a revoked key
            is refused at the latest this long after its revocation.
        spread_connections: ask keep-alive clients to reconnect now and then, so that they
            spread over the worker processes sharing the port (see :mod:`.rebalance`).

    Raises:
        ValueError: a limit is not positive.
    """
    if max_body_bytes <= 0 or max_document_bytes <= 0 or key_cache_seconds < 0:
        raise ValueError("size limits must be positive and key_cache_seconds not negative")
    app = FastAPI(
        title=TITLE,
        version=__version__,
        description="Receives aiobs export documents, meters them per API key, and serves them.",
    )
    app.state.aiobs = ServerState(
        storage=storage,
        keys=KeyCache(storage, ttl=key_cache_seconds),
        max_body_bytes=max_body_bytes,
        max_document_bytes=max_document_bytes,
    )
    install_error_handlers(app)
    app.include_router(protocol_router)
    app.include_router(query_router)
    app.add_api_route(
        "/health",
        health,
        methods=["GET"],
        response_model=HealthResponse,
        responses={503: {"model": HealthResponse, "description": "The database does not answer."}},
        tags=["health"],
    )
    app.add_middleware(RequestLog)
    if spread_connections:
        app.add_middleware(Rebalance)
    return app


def health(request: Request) -> JSONResponse:
    """Whether the server and its database answer (no key needed)."""
    try:
        server_state(request).storage.check()
    except Exception:  # any failure of the database means "unavailable"
        logger.warning("health check: the database does not answer", exc_info=True)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok", "database": "ok"}, 200)
