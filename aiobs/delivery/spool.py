"""A local directory of export documents that could not be delivered yet.

When the flush server cannot be reached (down, slow, restarting, or the connection drops in the
middle of an upload), the document's exact JSON bytes are written here and offered again, oldest
first, at the next flush. Each file is written to a temporary name and renamed, so a crash never
leaves half a document under a real name; because the bytes are kept exactly, a retried upload
carries the same idempotency key and the server stores and counts it once.

The spool is bounded (``max_bytes``): when a new document would exceed the bound, the oldest
documents are dropped, with a warning, so a long outage cannot fill the disk. The directory is
``AIOBS_SPOOL_DIR``, else ``$XDG_CACHE_HOME/aiobs/spool``, else ``~/.cache/aiobs/spool``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

from .. import _env

logger = logging.getLogger("aiobs")

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
SUFFIX = ".json"


def default_directory() -> Path:
    """Where the spool lives unless told otherwise (see the module docs)."""
    configured = os.environ.get(_env.SPOOL_DIR)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "aiobs" / "spool"


class Spool:
    """Documents waiting for delivery, one file each, oldest first.

    Args:
        directory: where the files go (created on first use, readable by its owner only).
        max_bytes: the most the spool may hold; older documents are dropped beyond it.
    """

    def __init__(
        self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"Spool max_bytes must be positive, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    def put(self, payload: bytes) -> Path:
        """Keep ``payload`` for a later delivery; return its file.

        Raises:
            OSError: the directory cannot be written.
        """
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._make_room(len(payload))
        digest = hashlib.sha256(payload).hexdigest()[:16]
        target = self.directory / f"{time.time_ns():020d}-{digest}{SUFFIX}"
        handle, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(payload)
            os.replace(temporary, target)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def pending(self) -> list[Path]:
        """The kept documents, oldest first."""
        try:
            names = sorted(entry.name for entry in os.scandir(self.directory))
        except FileNotFoundError:
            return []
        return [self.directory / name for name in names if name.endswith(SUFFIX)]

    def size(self) -> int:
        """Bytes held."""
        return sum(_size(path) for path in self.pending())

    @staticmethod
    def read(path: Path) -> bytes | None:
        """A kept document's bytes, or ``None`` if it went away meanwhile."""
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    @staticmethod
    def remove(path: Path) -> None:
        """Forget a document once delivered."""
        path.unlink(missing_ok=True)

    def _make_room(self, incoming: int) -> None:
        files = self.pending()
        held = sum(_size(path) for path in files)
        dropped = 0
        while files and held + incoming > self.max_bytes:
            oldest = files.pop(0)
            held -= _size(oldest)
            self.remove(oldest)
            dropped += 1
        if dropped:
            logger.warning(
                "aiobs: spool %s is full (%d bytes); dropped the %d oldest undelivered documents",
                self.directory,
                self.max_bytes,
                dropped,
            )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
