"""Local directories of export documents on their way to a flush server.

Every document bound for a flush server is written here first, then offered by the delivery
thread and removed once the server took it; what the server does not take waits here, byte for
byte, to be offered again. Because the bytes are kept exactly, a retried upload carries the same
idempotency key and the server stores and counts it once.

Layout, under the spool root (``AIOBS_SPOOL_DIR``, else ``$XDG_CACHE_HOME/aiobs/spool``, else
``~/.cache/aiobs/spool``)::

    <host>-<digest>/             one directory per destination: server URL and API key
        DESTINATION              the URL and a fingerprint (a hash) of the key, for people
        <order>-<digest>.json    documents, offered in this order
        <order>-<digest>~3.json  one the server refused three times for itself: offered after
                                 the others (see :mod:`aiobs.delivery.remote`)
        rejected/                documents the server refused for good, with the reason
    unbound/                     documents of the old shared layout (below)

A document is only ever offered to the destination it was written for: the directory name is a
digest of the server URL and of the key's fingerprint (the key itself is never written). Files
that earlier versions of aiobs left directly in the root could belong to any key or server, so
they are moved to ``unbound/`` with a warning and never delivered by themselves; move one into
the directory of its destination (its ``DESTINATION`` file names the URL) to deliver it.

Each file is written to a temporary name and renamed, so a crash never leaves half a document
under a real name; temporary files a crash left behind are removed when the spool is next opened,
once they are older than :data:`STALE_TEMP_SECONDS`. Each destination's spool is bounded
(``max_bytes``): when a new document would exceed the bound, the oldest documents are dropped,
with a warning, so a long outage cannot fill the disk; ``rejected/`` has the same bound.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import NamedTuple

from .. import _env

logger = logging.getLogger("aiobs")

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
SUFFIX = ".json"
REJECTED = "rejected"
"""Subdirectory of a destination's spool for documents the server refused for good."""
UNBOUND = "unbound"
"""Subdirectory of the root for documents of the old shared layout."""
DESTINATION = "DESTINATION"
STALE_TEMP_SECONDS = 3600.0
"""Age after which a temporary file in the spool is taken for a crash's leftover."""

_DOCUMENT = re.compile(r"^(\d{20})-([0-9a-f]{16})(?:~(\d{1,9}))?\.json$")
_TEMPORARY = re.compile(r"^\.(?:aiobs-)?[a-z0-9_]{8}\.tmp$")  # ours, also of earlier versions
_TEMP_PREFIX = ".aiobs-"


def default_directory() -> Path:
    """The spool root unless told otherwise (see the module docs)."""
    configured = os.environ.get(_env.SPOOL_DIR)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "aiobs" / "spool"


def key_fingerprint(api_key: str) -> str:
    """A short hash that tells keys apart without revealing them."""
    return "sha256:" + hashlib.sha256(b"aiobs-key\0" + api_key.encode()).hexdigest()[:16]


def destination_directory(root: str | os.PathLike[str], url: str, api_key: str) -> Path:
    """The spool directory of one server URL and API key, under ``root``."""
    digest = hashlib.sha256(f"{url}\0{key_fingerprint(api_key)}".encode()).hexdigest()[:16]
    parts = urllib.parse.urlsplit(url)
    host = f"{parts.hostname or 'server'}_{parts.port}" if parts.port else parts.hostname
    slug = re.sub(r"[^A-Za-z0-9._]+", "_", host or "server")[:64]
    return Path(root) / f"{slug}-{digest}"


class Entry(NamedTuple):
    """A spooled document's file name, read: its order and the refusals it met for itself."""

    order: int
    digest: str
    attempts: int

    @classmethod
    def parse(cls, name: str) -> Entry | None:
        """The entry of a document's file name, or ``None`` for any other file."""
        match = _DOCUMENT.match(name)
        if match is None:
            return None
        return cls(int(match[1]), match[2], int(match[3] or 0))

    @property
    def stem(self) -> str:
        """The name without the refusal count: the same for the document's whole life."""
        return f"{self.order:020d}-{self.digest}"

    def name(self) -> str:
        """The file name."""
        count = f"~{self.attempts}" if self.attempts else ""
        return f"{self.stem}{count}{SUFFIX}"


class Spool:
    """Documents waiting for delivery to one destination, one file each.

    Args:
        directory: where the files go (created on first use, readable by its owner only).
        max_bytes: the most the spool may hold; older documents are dropped beyond it.

    Use :meth:`for_destination` for a flush server's spool.
    """

    def __init__(
        self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"Spool max_bytes must be positive, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._opened = False
        self._label = ""

    @classmethod
    def for_destination(
        cls,
        root: str | os.PathLike[str],
        url: str,
        api_key: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Spool:
        """The spool of documents bound for ``url`` with ``api_key``, under ``root``.

        Documents of the old shared layout found directly in ``root`` are moved aside (see the
        module docs), and stale temporary files there removed.
        """
        spool = cls(destination_directory(root, url, api_key), max_bytes)
        parts = urllib.parse.urlsplit(url)
        shown = parts._replace(netloc=parts.hostname or "", query="", fragment="")
        if parts.port:
            shown = shown._replace(netloc=f"{parts.hostname}:{parts.port}")
        spool._label = f"url: {shown.geturl()}\nkey: {key_fingerprint(api_key)}\n"
        _set_aside_unbound(Path(root))
        return spool

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    @property
    def rejected(self) -> Path:
        """Where documents the server refused for good are moved."""
        return self.directory / REJECTED

    def put(self, payload: bytes, *, order: int | None = None) -> Path:
        """Keep ``payload`` for a later delivery; return its file.

        ``order`` places it (documents are offered in order); by default, after every other.

        Raises:
            OSError: the directory cannot be written.
        """
        self._open()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._label and not (self.directory / DESTINATION).exists():
            _write(self.directory / DESTINATION, self._label.encode())
        self._make_room(len(payload))
        digest = hashlib.sha256(payload).hexdigest()[:16]
        entry = Entry(time.time_ns() if order is None else order, digest, 0)
        target = self.directory / entry.name()
        _write(target, payload)
        return target

    def pending(self) -> list[Path]:
        """The kept documents, in the order they are offered.

        Oldest first, except that those the server refused more often for themselves come
        after the others.
        """
        self._open()
        entries = []
        for name in _names(self.directory):
            entry = Entry.parse(name)
            if entry is not None:
                entries.append((entry.attempts, entry.order, name))
        return [self.directory / name for _, _, name in sorted(entries)]

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

    @staticmethod
    def attempts(path: Path) -> int:
        """How often the server refused this document for itself (see :meth:`hold_back`)."""
        entry = Entry.parse(path.name)
        return 0 if entry is None else entry.attempts

    @staticmethod
    def held_since(path: Path) -> float | None:
        """When the document was last held back (its mtime), or ``None`` if it is gone."""
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return None

    def hold_back(self, path: Path) -> Path | None:
        """Count one more refusal of this document for itself; return its new file.

        Its bytes (so its idempotency key) do not change; it is offered after the documents
        refused fewer times. ``None`` if it went away meanwhile.
        """
        entry = Entry.parse(path.name)
        if entry is None:
            return None
        target = path.with_name(entry._replace(attempts=entry.attempts + 1).name())
        try:
            os.replace(path, target)
            os.utime(target)
        except FileNotFoundError:
            return None
        return target

    def set_aside(self, path: Path, reason: str) -> Path | None:
        """Move a document the server refused for good to :attr:`rejected`, with the reason.

        Returns where it went, or ``None`` if it went away meanwhile.

        Raises:
            OSError: the directory cannot be written.
        """
        self.rejected.mkdir(parents=True, exist_ok=True, mode=0o700)
        _drop_oldest(self.rejected, _size(path), self.max_bytes, "rejected documents")
        target = self.rejected / path.name
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None
        _write(target.with_name(target.name + ".reason"), reason.encode() + b"\n")
        return target

    def _open(self) -> None:
        """On first use: remove temporary files that a crash left (ours, and stale)."""
        if self._opened:
            return
        self._opened = True
        _remove_stale_temporaries(self.directory)

    def _make_room(self, incoming: int) -> None:
        _drop_oldest(self.directory, incoming, self.max_bytes, "undelivered documents")


def _write(target: Path, payload: bytes) -> None:
    """Write ``payload`` to ``target`` through a temporary file and a rename."""
    handle, temporary = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temporary, target)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise


def _names(directory: Path) -> list[str]:
    """The names in ``directory``; none if it is missing or cannot be read."""
    try:
        return [entry.name for entry in os.scandir(directory)]
    except OSError:
        return []


def _drop_oldest(directory: Path, incoming: int, max_bytes: int, what: str) -> None:
    """Drop the oldest documents of ``directory`` until ``incoming`` more bytes fit."""
    files = sorted(
        (entry.order, name)
        for name in _names(directory)
        if (entry := Entry.parse(name)) is not None
    )
    paths = [directory / name for _, name in files]
    held = sum(_size(path) for path in paths)
    dropped = 0
    while paths and held + incoming > max_bytes:
        oldest = paths.pop(0)
        held -= _size(oldest)
        oldest.unlink(missing_ok=True)
        oldest.with_name(oldest.name + ".reason").unlink(missing_ok=True)
        dropped += 1
    if dropped:
        logger.warning(
            "aiobs: spool %s is full (%d bytes); dropped the %d oldest %s",
            directory,
            max_bytes,
            dropped,
            what,
        )


def _remove_stale_temporaries(directory: Path) -> None:
    now = time.time()
    for name in _names(directory):
        if not _TEMPORARY.match(name):
            continue
        path = directory / name
        try:
            if now - path.stat().st_mtime >= STALE_TEMP_SECONDS:
                path.unlink()
                logger.info("aiobs: removed %s, left in the spool by an interrupted write", path)
        except FileNotFoundError:  # another process removed it first
            continue
        except OSError as exc:
            logger.warning("aiobs: cannot remove %s, left by an interrupted write: %s", path, exc)
            return


def _set_aside_unbound(root: Path) -> None:
    """Move documents of the old shared layout out of the way (see the module docs)."""
    _remove_stale_temporaries(root)
    documents = [name for name in _names(root) if Entry.parse(name) is not None]
    if not documents:
        return
    target = root / UNBOUND
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        moved = sum(_move(root / name, target / name) for name in documents)
    except OSError as exc:
        logger.warning(
            "aiobs: %d documents in %s were spooled by an earlier aiobs for an unknown key and "
            "server; they are not delivered, and moving them to %s failed (%s)",
            len(documents),
            root,
            target,
            exc,
        )
        return
    if moved:
        logger.warning(
            "aiobs: moved %d documents spooled by an earlier aiobs (for an unknown key and "
            "server) to %s; they are not delivered by themselves: to deliver one, move it into "
            "the spool directory of its destination (its DESTINATION file names the server)",
            moved,
            target,
        )


def _move(source: Path, target: Path) -> bool:
    """Rename ``source`` to ``target``; ``False`` if another process moved it first."""
    try:
        os.replace(source, target)
    except FileNotFoundError:
        return False
    return True


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
