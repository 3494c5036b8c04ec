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
from ..ui import install as install_ui
from .auth import CACHE_SECONDS, KeyCache
from .budget import MemoryBudget
from .deps import ServerState, server_state
from .errors import install_error_handlers
from .limits import UploadLimits
from .logs import RequestLog
from .models import HealthResponse
from .protocol import router as protocol_router
from .queries import router as query_router
from .rebalance import Rebalance
from .scoring import router as scores_router
from .storage import Storage
from .turns import Turns

logger = logging.getLogger("aiobs.server")

TITLE = "aiobs flush server"


def create_app(
    storage: Storage,
    *,
    limits: UploadLimits | None = None,
    max_body_bytes: int | None = None,
    max_document_bytes: int | None = None,
    max_events_per_upload: int | None = None,
    key_cache_seconds: float = CACHE_SECONDS,
    spread_connections: bool = False,
) -> FastAPI:
    """The app serving ``storage``; the caller opens the storage and closes it after use.

    Args:
        storage: a migrated storage (see :func:`aiobs.server.storage.open_storage`).
        limits: what an upload may be (:class:`~aiobs.server.limits.UploadLimits`: sizes,
            values, nesting, events, body timeout, memory); the defaults when not given.
        max_body_bytes: largest request body accepted, as sent (changes ``limits``).
        max_document_bytes: largest export document accepted once decompressed (changes
            ``limits``).
        max_events_per_upload: most events in one upload (changes ``limits``).
        key_cache_seconds: how long a successful authentication is reused; a revoked key
            is refused at the latest this long after its revocation.
        spread_connections: ask keep-alive clients to reconnect now and then, so that they
            spread over the worker processes sharing the port (see :mod:`.rebalance`).

    Raises:
        ValueError: a limit is not positive.
    """
    if key_cache_seconds < 0:
        raise ValueError("key_cache_seconds must not be negative")
    shortcuts = {
        "max_body_bytes": max_body_bytes,
        "max_document_bytes": max_document_bytes,
        "max_events": max_events_per_upload,
    }
    limits = (limits or UploadLimits()).replace(
        **{name: value for name, value in shortcuts.items() if value is not None}
    )
    app = FastAPI(
        title=TITLE,
        version=__version__,
        description="Receives aiobs export documents, meters them per API key, and serves them.",
    )
    app.state.aiobs = ServerState(
        storage=storage,
        keys=KeyCache(storage, ttl=key_cache_seconds),
        limits=limits,
        budget=MemoryBudget(limits.memory_bytes),
        turns=Turns(),
    )
    install_error_handlers(app)
    app.include_router(protocol_router)
    app.include_router(query_router)
    app.include_router(scores_router)
    app.add_api_route(
        "/health",
        health,
        methods=["GET"],
        response_model=HealthResponse,
        responses={503: {"model": HealthResponse, "description": "The database does not answer."}},
        tags=["health"],
    )
    install_ui(app, storage)
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
