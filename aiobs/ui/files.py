"""Flush files read back as export documents, for the local viewer and the HTML report.

:class:`~aiobs.exporters.FileExporter` writes a JSON document, or JSON Lines (one line per
session, event and function event, each with a ``"record"`` field), either of them gzipped (a
JSON Lines file gets one gzip member per flush). :func:`read_document` turns any of these into
one document that the server's parser accepts; :func:`flush_files` finds them in directories.

::

    for path in flush_files([Path("out")]):
        document = read_document(path)
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._format import (
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_SESSIONS,
    RECORD,
    RECORD_EVENT,
    RECORD_FUNCTION_EVENT,
    RECORD_SESSION,
    SESSION_ID,
)

SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
"""The names of flush files that a directory is searched for."""

_LISTS = {RECORD_EVENT: DOC_EVENTS, RECORD_FUNCTION_EVENT: DOC_FUNCTION_EVENTS}


class UnreadableFile(ValueError):  # noqa: N818 - named for what is wrong, like ValueError
    """A flush file that cannot be read; the message names the file and what is wrong."""


def is_flush_file(path: Path) -> bool:
    """Whether ``path`` is named like a flush file (temporary files of a writer are not)."""
    return path.name.endswith(SUFFIXES) and not path.name.startswith(".")


def flush_files(paths: Iterable[Path]) -> list[Path]:
    """The flush files among ``paths``: files as given, directories searched (recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(item for item in path.rglob("*") if item.is_file() and is_flush_file(item))
            )
        else:
            found.append(path)
    return found


def read_document(path: Path) -> dict[str, Any]:
    """The export document in ``path`` (JSON or JSON Lines, gzipped or not).

    Raises:
        UnreadableFile: the file cannot be opened, or is not a flush file.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(path, raw)
    text = raw.decode("utf-8", "replace")
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl") or (not name.endswith(".json") and _looks_like_lines(text)):
        return _from_lines(path, text)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UnreadableFile(f"{path}: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise UnreadableFile(f"{path}: not an aiobs export document (a JSON object is expected)")
    return document


def _gunzip(path: Path, raw: bytes) -> bytes:
    """Every complete gzip member of ``raw``: an append still being written is left out."""
    out = bytearray()
    while raw:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(raw)
        except zlib.error:
            break
        if not inflater.eof:  # a member cut short: a flush in progress, or a crash
            break
        raw = inflater.unused_data
    if not out and raw:
        try:  # nothing complete: let gzip say what is wrong
            gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise UnreadableFile(f"{path}: not a readable gzip file ({exc})") from None
    return bytes(out)


def _looks_like_lines(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    return f'"{RECORD}"' in first


def _from_lines(path: Path, text: str) -> dict[str, Any]:
    """A document from JSON Lines; a session's latest line is its current state."""
    sessions: dict[str, dict[str, Any]] = {}
    lists: dict[str, list[dict[str, Any]]] = {DOC_EVENTS: [], DOC_FUNCTION_EVENTS: []}
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            if number == len(lines):  # an incomplete last line: an append in progress
                break
            raise UnreadableFile(f"{path}: line {number} is not JSON ({exc})") from None
        kind = record.pop(RECORD, None) if isinstance(record, dict) else None
        if kind == RECORD_SESSION and isinstance(record.get(SESSION_ID), str):
            sessions[record[SESSION_ID]] = record
        elif kind in _LISTS:
            lists[_LISTS[kind]].append(record)
        else:
            raise UnreadableFile(
                f'{path}: line {number} is not an aiobs record (no "{RECORD}" field saying '
                f"{RECORD_SESSION}, {RECORD_EVENT} or {RECORD_FUNCTION_EVENT})"
            )
    return {DOC_SESSIONS: list(sessions.values()), **lists}
