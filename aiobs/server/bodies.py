"""Reading upload bodies within limits: the bytes on the wire, then the document they decode to.

A body larger than the limit is refused as soon as that is known: from ``Content-Length``, or
while it is being received; a body that arrives too slowly is cut off (HTTP 408). A gzip body is
decompressed piece by piece with a cap on the output, so a small body that inflates to gigabytes
(a "gzip bomb") is refused without being expanded; each piece is scanned (:mod:`.jsonscan`) so
that a document with too many values or too deep a nesting is refused before it is parsed, and
held against the memory budget (:mod:`.budget`) before it is kept. The document is then parsed
strictly: ``NaN``, ``Infinity``, lone surrogates, bytes that are not UTF-8 and integers of more
than 4,300 digits are refused (Python's ``json`` module accepts the first three).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pydantic_core

from .budget import Holding
from .jsonscan import JSONScan

_GZIP_WBITS = 16 + zlib.MAX_WBITS

PIECE_BYTES = 1024 * 1024
"""Decompressed bytes scanned and held at a time."""


class BodyTooLargeError(Exception):
    """The body, or the document it decodes to, is larger than the server accepts (HTTP 413)."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} is larger than the limit of {limit} bytes")
        self.limit = limit


class BadBodyError(Exception):
    """The body cannot be decoded: bad gzip, not JSON, unknown encoding (HTTP 400 or 415)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class BodyTimeoutError(Exception):
    """The body did not arrive within the time allowed (HTTP 408; the connection is closed)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the request body did not arrive within {seconds:g} seconds: send it at once"
        )
        self.seconds = seconds


def check_content_length(header: str | None, limit: int) -> None:
    """Refuse a declared ``Content-Length`` above ``limit`` before reading anything.

    Raises:
        BodyTooLargeError: the declared length is above the limit.
        BadBodyError: the header is not a number.
    """
    if header is None:
        return
    try:
        declared = int(header)
    except ValueError:
        raise BadBodyError("Content-Length is not a number") from None
    if declared > limit:
        raise BodyTooLargeError("the request body", limit)


async def read_limited(
    chunks: AsyncIterator[bytes],
    limit: int,
    holding: Holding | None = None,
    timeout: float | None = None,
) -> bytes:
    """The whole body from ``chunks``, refused as soon as it grows past ``limit`` bytes.

    Args:
        chunks: the body as it arrives.
        limit: most bytes accepted.
        holding: where the bytes are held against the memory budget as they arrive.
        timeout: seconds the whole body may take to arrive (``None``: no limit).

    Raises:
        BodyTooLargeError: more than ``limit`` bytes arrived.
        BodyTimeoutError: the body took longer than ``timeout``.
        ServerBusyError: the memory budget cannot hold the body now.
    """
    parts: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(timeout):
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLargeError("the request body", limit)
                if holding is not None:
                    holding.take(len(chunk))
                parts.append(chunk)
    except TimeoutError:
        raise BodyTimeoutError(timeout or 0.0) from None
    return b"".join(parts)


def decode(
    body: bytes,
    encoding: str | None,
    limit: int,
    scan: JSONScan | None = None,
    holding: Holding | None = None,
) -> bytes | bytearray:
    """The document bytes of ``body`` sent with ``Content-Encoding: encoding``.

    Args:
        body: the bytes received.
        encoding: the ``Content-Encoding`` header.
        limit: most decoded bytes accepted.
        scan: what counts the document's values and nesting as it is decoded.
        holding: where decompressed bytes are held against the memory budget.

    Raises:
        BodyTooLargeError: the decoded document is larger than ``limit`` bytes.
        BadBodyError: unknown encoding (415) or a corrupt gzip stream (400).
        TooManyValuesError, TooDeepError: what ``scan`` refuses.
        ServerBusyError: the memory budget cannot hold the document now.
    """
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        if len(body) > limit:
            raise BodyTooLargeError("the decoded document", limit)
        if scan is not None:
            scan.feed(body)
        return body
    if name in ("gzip", "x-gzip"):
        return gunzip(body, limit, scan, holding)
    raise BadBodyError(
        f"unsupported Content-Encoding {encoding!r}: send gzip or no encoding", status=415
    )


def gunzip(
    body: bytes, limit: int, scan: JSONScan | None = None, holding: Holding | None = None
) -> bytearray:
    """Decompress ``body`` (one or more gzip members) to at most ``limit`` bytes.

    Each piece of :data:`PIECE_BYTES` is scanned and held before it is kept.

    Raises:
        BodyTooLargeError: the output would exceed ``limit`` bytes.
        BadBodyError: ``body`` is not a complete gzip stream.
    """
    out = bytearray()
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(_GZIP_WBITS)
            while not inflater.eof:
                piece = inflater.decompress(data, min(PIECE_BYTES, limit - len(out) + 1))
                if len(out) + len(piece) > limit:
                    raise BodyTooLargeError("the decoded document", limit)
                if holding is not None:
                    holding.take(len(piece))
                if scan is not None:
                    scan.feed(piece)
                out += piece
                data = inflater.unconsumed_tail
                if not piece and not data:
                    raise BadBodyError("the body is not valid gzip: the stream is truncated")
            data = inflater.unused_data
    except zlib.error as exc:
        raise BadBodyError(f"the body is not valid gzip: {exc}") from None
    return out


def parse_json(document: bytes | bytearray) -> Any:
    """The JSON value of ``document``, parsed strictly.

    Raises:
        BadBodyError: it is not UTF-8 JSON, or it holds ``NaN``, ``Infinity``, a lone
            surrogate or an integer of more than 4,300 digits (the message says where).
    """
    try:
        return pydantic_core.from_json(document, allow_inf_nan=False)
    except ValueError as exc:
        raise BadBodyError(f"the body is not valid JSON: {exc}") from None
