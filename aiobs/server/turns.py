"""Large uploads take turns: one at a time is parsed and written, while small ones go freely.

Parsing a document and making its rows is Python work that holds the interpreter lock. Several
uploads of 10,000 events parsed at once share the lock with every other request of the process,
and a small upload of another tenant then waits seconds for its share; written one after the
other, they leave it room (measured: four large uploads in flight, a small one took up to 2.8 s
when they were parsed together and under 0.5 s when they took turns, with the same total time
for the large ones). A document is large above :data:`LARGE_DOCUMENT_BYTES` once decompressed.
An upload that waits longer than :data:`TURN_WAIT_SECONDS` for its turn is answered 503 with
``Retry-After``; it waits on the event loop, holding no thread of the pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from .budget import ServerBusyError

LARGE_DOCUMENT_BYTES = 1024 * 1024
"""Decompressed size above which a document waits for its turn (about 1,500 SDK events)."""

TURN_WAIT_SECONDS = 10.0
"""Longest wait for a turn before the upload is answered 503."""

POLL_SECONDS = 0.01
"""How often a waiting upload looks whether its turn has come."""


class Turns:
    """``slots`` large uploads at a time (thread-safe; waiting happens on the event loop)."""

    def __init__(self, slots: int = 1, wait: float = TURN_WAIT_SECONDS) -> None:
        self._free = threading.Semaphore(slots)
        self.wait = wait

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a turn and hold it for the block.

        Raises:
            ServerBusyError: no turn came within ``wait`` seconds.
        """
        deadline = time.monotonic() + self.wait
        while not self._free.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise ServerBusyError
            await anyio.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            self._free.release()
