"""Bearer-key authentication, with a short in-memory cache so that ingest stays fast.

A key that authenticated is remembered for :data:`CACHE_SECONDS`; a key revoked meanwhile (by
``aiobs keys revoke``, possibly in another process) is refused at the latest when its entry
expires. Failed attempts are never cached, so a key created a moment ago works at once. The
cache is keyed by a hash of the key: the secret itself is neither kept nor logged.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from .storage import KeyRecord, Storage

CACHE_SECONDS = 5.0
"""How long a successful authentication is trusted without asking the database again."""

MAX_CACHED_KEYS = 10_000
"""Entries kept before the cache is emptied (a bound against memory growth, not a tuning knob)."""

MAX_KEY_LENGTH = 512
"""Longer bearer tokens are refused without a database lookup."""

INVALID_KEY_MESSAGE = (
    "missing or invalid API key: send 'Authorization: Bearer <key>' with a live key "
    "(create one with 'aiobs keys create')"
)


class UnauthorizedError(Exception):
    """The request has no usable API key (HTTP 401)."""

    def __init__(self) -> None:
        super().__init__(INVALID_KEY_MESSAGE)


class KeyCache:
    """Authenticates secrets against a storage, remembering successes for ``ttl`` seconds.

    Args:
        storage: where keys live.
        ttl: seconds a successful authentication is reused.
        clock: monotonic time source (tests pass their own).
    """

    def __init__(
        self,
        storage: Storage,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._storage = storage
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[bytes, tuple[KeyRecord, float]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> KeyRecord | None:
        """The key for ``secret`` when a recent authentication is remembered; no I/O."""
        digest = _digest(secret)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            record, expires = entry
            if self._clock() >= expires:
                del self._entries[digest]
                return None
            return record

    def authenticate(self, secret: str) -> KeyRecord | None:
        """The live key for ``secret`` (cached, else from the database); ``None`` if refused."""
        if not secret or len(secret) > MAX_KEY_LENGTH:
            return None
        record = self.cached(secret)
        if record is not None:
            return record
        record = self._storage.authenticate(secret)
        if record is not None:
            with self._lock:
                if len(self._entries) >= MAX_CACHED_KEYS:
                    self._entries.clear()
                self._entries[_digest(secret)] = (record, self._clock() + self._ttl)
        return record

    def clear(self) -> None:
        """Forget every remembered authentication."""
        with self._lock:
            self._entries.clear()


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
