"""Reading upload bodies within limits: the bytes on the wire, then the document they decode to.

A body larger than the limit is refused as soon as that is known: from ``Content-Length``, or
while it is being received. A gzip body is decompressed piece by piece with a cap on the output,
so a small body that inflates to gigabytes (a "gzip bomb") is refused without being expanded.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

_GZIP_WBITS = 16 + zlib.MAX_WBITS


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


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body from ``chunks``, refused as soon as it grows past ``limit`` bytes.

    Raises:
        BodyTooLargeError: more than ``limit`` bytes arrived.
    """
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError("the request body", limit)
        parts.append(chunk)
    return b"".join(parts)


def decode(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The document bytes of ``body`` sent with ``Content-Encoding: encoding``.

    Raises:
        BodyTooLargeError: the decoded document is larger than ``limit`` bytes.
        BadBodyError: unknown encoding (415) or a corrupt gzip stream (400).
    """
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        if len(body) > limit:
            raise BodyTooLargeError("the decoded document", limit)
        return body
    if name in ("gzip", "x-gzip"):
        return gunzip(body, limit)
    raise BadBodyError(
        f"unsupported Content-Encoding {encoding!r}: send gzip or no encoding", status=415
    )


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress ``body`` (one or more gzip members) to at most ``limit`` bytes.

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
                piece = inflater.decompress(data, limit - len(out) + 1)
                out += piece
                if len(out) > limit:
                    raise BodyTooLargeError("the decoded document", limit)
                data = inflater.unconsumed_tail
                if not piece and not data:
                    raise BadBodyError("the body is not valid gzip: the stream is truncated")
            data = inflater.unused_data
    except zlib.error as exc:
        raise BadBodyError(f"the body is not valid gzip: {exc}") from None
    return bytes(out)


def parse_json(document: bytes) -> Any:
    """The JSON value of ``document``.

    Raises:
        BadBodyError: it is not UTF-8 JSON (the message says where it breaks).
    """
    try:
        return json.loads(document)
    except UnicodeDecodeError:
        raise BadBodyError("the body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise BadBodyError(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise BadBodyError("the body is not valid JSON: nested too deeply") from None
