"""The record buffer of a collector: its live sessions, their records, and the bound on both.

Every record enters through :meth:`RecordBuffer.admit` (the ``@observe`` function wrappers inline
the same three steps for speed; a test holds them to it). The bound is exact without a lock: the
free places are the bytes of a ``bytearray``, a record takes one with ``pop()`` -- one C call, so
two threads never take the same last place -- and an ``IndexError`` means the buffer is full, so the
record is dropped and counted on its session. A flush gives the places of exported records back.

The buffer also knows the sessions that hold, or may still receive, records: a session is
registered when it starts, released by the flush that exported it after it ended, and taken back
if a late record arrives for it.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, Protocol, TypeVar

from ._config import Settings
from ._records import RECORD_WIDTH, Record


class BufferedSession(Protocol):
    """What the buffer needs of a session (:class:`aiobs.RecordingSession`)."""

    id: str
    records: list[Any]
    dropped: int
    dirty: bool
    released: bool
    ended_at: float | None

    def end(self) -> None:
        """Mark the session ended."""


S = TypeVar("S", bound=BufferedSession)


class RecordBuffer(Generic[S]):
    """Admission, bounds and drop counting for one collector's sessions.

    ``settings`` is the collector's current :class:`~aiobs._config.Settings`; sessions read it
    through their buffer, so ``configure()`` reaches sessions already running.
    """

    __slots__ = ("_count_lock", "_owed", "capacity", "lock", "places", "sessions", "settings")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        """Guards :attr:`sessions` (never held while recording)."""
        self.sessions: dict[str, S] = {}
        self._count_lock = threading.Lock()
        self.capacity = settings.max_buffered_events
        self.places = bytearray(self.capacity)
        """One byte per free place. Taking one is ``places.pop()``; see the module docs."""
        self._owed = 0  # places to withhold after the capacity was lowered below what is held

    # -- the hot path ------------------------------------------------------------------------------

    def admit(self, session: S, record: Record) -> None:
        """Buffer a finished record in ``session``, or count it as dropped when full."""
        try:
            self.places.pop()
        except IndexError:
            self.reject(session)
        else:
            session.records.extend(record)
            if session.released:
                self.reattach(session)

    def reject(self, session: S) -> None:
        """Count a record that found the buffer full."""
        with self._count_lock:
            session.dropped += 1
        session.dirty = True

    def reattach(self, session: S) -> None:
        """Take back a released session that received a late record, so the record is exported."""
        with self.lock:
            if session.released:
                session.released = False
                session.dirty = True
                self.sessions[session.id] = session

    # -- sessions ----------------------------------------------------------------------------------

    def register(self, session: S) -> None:
        """Start tracking a new session."""
        with self.lock:
            self.sessions[session.id] = session

    def to_export(self) -> list[S]:
        """The sessions a flush would export now: with records, or changed since the last one."""
        with self.lock:
            return [s for s in self.sessions.values() if s.records or s.dirty]

    def release(self, exported: list[tuple[S, int]]) -> None:
        """After a successful export: delete the exported records and free their places.

        ``exported`` gives each session and how many buffer entries were exported; records that
        arrived meanwhile stay. Ended sessions with nothing left are released.
        """
        count = 0
        for session, entries in exported:
            del session.records[:entries]
            count += entries // RECORD_WIDTH
        self.give_back(count)
        with self.lock:
            for session, _ in exported:
                if session.ended_at is None or session.records or session.dirty:
                    continue
                session.released = True
                self.sessions.pop(session.id, None)
                if session.records:  # a record slipped in before `released` was visible
                    session.released = False
                    self.sessions[session.id] = session

    def buffered_events(self) -> int:
        """Records waiting for the next flush, over all sessions."""
        with self.lock:
            return sum(len(s.records) for s in self.sessions.values()) // RECORD_WIDTH

    def held(self) -> int:
        """Places taken (a cheap reading for the background thread: one length)."""
        return self.capacity - len(self.places)

    def pending(self) -> bool:
        """Whether a flush would export anything new."""
        with self.lock:
            return any(s.records or s.dirty for s in self.sessions.values())

    # -- places ------------------------------------------------------------------------------------

    def give_back(self, places: int) -> None:
        """Free ``places`` taken by records that left the buffer."""
        with self._count_lock:
            settled = min(places, self._owed)
            self._owed -= settled
            self.places.extend(bytes(places - settled))

    def resize(self, capacity: int) -> None:
        """Change the bound; lowering it below what is held withholds places until freed."""
        with self._count_lock:
            change = capacity - self.capacity
            self.capacity = capacity
            if change >= 0:
                self.places.extend(bytes(change))
            else:
                taken = min(-change, len(self.places))
                del self.places[:taken]
                self._owed += -change - taken

    def use(self, settings: Settings) -> None:
        """Apply new settings (resizing the bound when it changed)."""
        if settings.max_buffered_events != self.capacity:
            self.resize(settings.max_buffered_events)
        self.settings = settings

    def reset(self, settings: Settings) -> None:
        """Forget every session and record (ending the sessions) and take ``settings``."""
        with self.lock:
            for session in self.sessions.values():
                session.end()
                session.released = True
                del session.records[:]  # a block still open must not bring this data back
            self.sessions.clear()
        with self._count_lock:
            self.settings = settings
            self.capacity = settings.max_buffered_events
            self.places = bytearray(self.capacity)
            self._owed = 0

    def after_fork_in_child(self) -> None:
        """New locks and an empty bound: the parent exports what it held."""
        self.lock = threading.RLock()
        self._count_lock = threading.Lock()
        self.places = bytearray(self.capacity)
        self._owed = 0
