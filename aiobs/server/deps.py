"""What every route needs: the server's state and the caller's authenticated key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .auth import KeyCache, UnauthorizedError
from .budget import MemoryBudget
from .limits import UploadLimits
from .logs import PROJECT_STATE
from .storage import KeyRecord, Storage
from .turns import Turns

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An aiobs API key (aiobs_sk_...), created with 'aiobs keys create'.",
)
"""Declares the bearer key in the OpenAPI document; the key itself is read by current_key."""


@dataclass(frozen=True)
class ServerState:
    """The storage, the key cache, the upload limits, memory budget and turns of one app."""

    storage: Storage
    keys: KeyCache
    limits: UploadLimits
    budget: MemoryBudget
    turns: Turns


def server_state(request: Request) -> ServerState:
    """The state of the app serving ``request``."""
    state: ServerState = request.app.state.aiobs
    return state


async def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> KeyRecord:
    """The caller's live key; the database is asked only when the cache does not know it.

    Raises:
        UnauthorizedError: no bearer key, or one that is unknown or revoked.
    """
    secret = credentials.credentials.strip() if credentials is not None else ""
    if not secret:
        raise UnauthorizedError
    keys = server_state(request).keys
    record = keys.cached(secret)
    if record is None:
        record = await run_in_threadpool(keys.authenticate, secret)
    if record is None:
        raise UnauthorizedError
    setattr(request.state, PROJECT_STATE, record.project_id)
    return record
