"""How much memory the uploads in progress may hold together: a counting semaphore over bytes.

Each upload takes from the budget before it holds more memory: its body as it arrives, its
document as it is decompressed, then an estimate of the objects its parse makes (before they are
made), and gives everything back when it has been answered. An upload that would pass the
budget is answered 503 with ``Retry-After`` (the SDK waits and sends it again) instead of
waiting: nothing waits while holding memory, so two large uploads cannot block each other. Small
uploads need little and get through beside a large one; ten hostile uploads at once cannot take
the server's memory, only the budget.
"""

from __future__ import annotations

import threading
from types import TracebackType

PARSED_BYTES_PER_VALUE = 80
"""Memory that one parsed JSON value may take: a small dict, list, float or string, and its slot."""

PARSED_BYTES_PER_BYTE = 3
"""Memory per byte of a document for its parsed strings, the rows made from them and the
database's copy of those rows."""

RETRY_AFTER_SECONDS = 1
"""What a refused upload is told to wait before sending again."""


def parse_estimate(document_bytes: int, values: int) -> int:
    """Memory that parsing a document of ``document_bytes`` with ``values`` values may take."""
    return max(PARSED_BYTES_PER_BYTE * document_bytes, PARSED_BYTES_PER_VALUE * values)


class ServerBusyError(Exception):
    """The uploads in progress hold the whole memory budget: try again shortly (HTTP 503)."""

    def __init__(self) -> None:
        super().__init__(
            "the server is busy with other uploads: send this one again in "
            f"{RETRY_AFTER_SECONDS} s (see Retry-After)"
        )
        self.retry_after = RETRY_AFTER_SECONDS


class UploadTooLargeForBudgetError(Exception):
    """One upload needs more memory than the whole budget: it can never be taken (HTTP 413)."""

    def __init__(self, capacity: int) -> None:
        super().__init__(
            f"the upload needs more than this server's memory budget for uploads ({capacity} "
            "bytes): send smaller documents, or start the server with a larger --ingest-memory-mb"
        )


class MemoryBudget:
    """``capacity`` bytes shared by the uploads in progress (thread-safe)."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("the memory budget must be positive")
        self.capacity = capacity
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Bytes held by uploads right now."""
        return self._used

    def hold(self) -> Holding:
        """A holding for one upload, empty until it takes; use it as a context manager."""
        return Holding(self)

    def _take(self, holding: Holding, size: int) -> None:
        with self._lock:
            if holding.held + size > self.capacity:
                raise UploadTooLargeForBudgetError(self.capacity)
            if self._used + size > self.capacity:
                raise ServerBusyError
            self._used += size
            holding.held += size

    def _give_back(self, holding: Holding) -> None:
        with self._lock:
            self._used -= holding.held
            holding.held = 0


class Holding:
    """What one upload holds of a :class:`MemoryBudget`; given back when the block ends."""

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self.held = 0

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes.

        Raises:
            ServerBusyError: other uploads hold too much right now.
            UploadTooLargeForBudgetError: this upload alone would need more than the budget.
        """
        self._budget._take(self, size)  # the budget and its holdings are one unit

    def release(self) -> None:
        """Give back everything held."""
        self._budget._give_back(self)

    def __enter__(self) -> Holding:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
