r"""Counting a JSON document's values and measuring its nesting from its bytes, before parsing it.

A gzip body of 100 KB can inflate to 100 MB of ``{},{},...``, and parsing that makes tens of
millions of Python objects: gigabytes. :class:`JSONScan` reads the decoded bytes piece by piece,
as they come out of the decompressor, and refuses a document with too many values or too deep a
nesting before a single object is made. It runs at the speed of ``bytes.translate`` and
``bytes.count`` (about 40 microseconds for the 70 KB of a 100-event upload):

1. escapes are removed (``\\`` and ``\"``), so that every quote left opens or closes a string;
2. every byte but ``"``, ``,`` and the brackets is deleted, and brackets become ``(`` and ``)``;
3. strings are removed with what they hold: when every quote is next to its partner (strings
   holding none of the kept characters: nearly always) the quotes alone go, else a regular
   expression removes ``"..."``;
4. values are counted as commas plus containers; the nesting is the number of rounds that take
   out every innermost ``()``.

The scan bounds; it does not validate: a document it lets through may still be invalid JSON, which
the parser then reports with its position.
"""

from __future__ import annotations

import itertools
import re

_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_DELETED = bytes(byte for byte in range(256) if byte not in b'",[]{}')
_STRING = re.compile(rb'"[^"]*"')
_STEP = [0] * 256
_STEP[ord("(")] = 1
_STEP[ord(")")] = -1


class TooManyValuesError(Exception):
    """The document holds more values than the server parses in one upload (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the document holds more than {limit} JSON values (array elements and object "
            "members): split it into smaller uploads"
        )
        self.limit = limit


class TooDeepError(Exception):
    """The document nests arrays and objects deeper than the server accepts (HTTP 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the document is nested more than {limit} levels deep (arrays and objects); "
            "record shallower values (the SDK keeps at most 32 levels of an argument)"
        )
        self.limit = limit


class JSONScan:
    """Counts values and tracks nesting over the pieces of one JSON document.

    Args:
        max_values: values (array elements, object members, top-level value) accepted.
        max_depth: levels of nested arrays and objects accepted.

    Usage::

        scan = JSONScan(max_values=2_000_000, max_depth=64)
        for piece in pieces:
            scan.feed(piece)  # raises TooManyValuesError or TooDeepError
    """

    def __init__(self, max_values: int, max_depth: int) -> None:
        self.max_values = max_values
        self.max_depth = max_depth
        self.values = 0
        """Values counted so far (an upper bound: commas and containers outside strings)."""
        self._in_string = False
        self._escape = b""  # a backslash at the end of the last piece, which escapes the next byte
        self._open = 0  # containers still open at the end of what was scanned

    def feed(self, piece: bytes | bytearray) -> None:
        """Scan the next ``piece`` of the document.

        Raises:
            TooManyValuesError: the values so far are more than ``max_values``.
            TooDeepError: the nesting so far is deeper than ``max_depth``.
        """
        text = bytes(piece) if self._escape == b"" else self._escape + piece
        self._escape = b""
        if b"\\" in text:
            text = self._without_escapes(text)
        kept = text.translate(_BRACKETS, _DELETED)
        if self._in_string:
            kept = b'"' + kept
        quotes = kept.count(b'"')
        if quotes:
            self._in_string = quotes % 2 == 1
            if self._in_string:
                kept += b'"'  # closes the string the next piece goes on with
                quotes += 1
            if 2 * kept.count(b'""') == quotes:
                kept = kept.translate(None, b'"')  # every string is empty of kept bytes
            else:
                kept = _STRING.sub(b"", kept)
        self.values += kept.count(b",") + kept.count(b"(")
        if self.values > self.max_values:
            raise TooManyValuesError(self.max_values)
        self._nest(kept.translate(None, b","))

    def _without_escapes(self, text: bytes) -> bytes:
        r"""``text`` without ``\\`` and ``\"``; a lone backslash at its end is kept for later."""
        run = len(text) - len(text.rstrip(b"\\"))
        if run % 2:
            self._escape = b"\\"
            text = text[:-1]
        return text.replace(b"\\\\", b"").replace(b'\\"', b"")

    def _nest(self, brackets: bytes) -> None:
        """Follow the nesting through ``brackets`` (only ``(`` and ``)``)."""
        if not brackets:
            return
        sequence = b"(" * self._open + brackets
        rounds = 0
        while b"()" in sequence:
            sequence = sequence.replace(b"()", b"")
            rounds += 1
            if rounds > self.max_depth:
                raise TooDeepError(self.max_depth)
        still_open = sequence.count(b"(")  # a ")" left over means invalid JSON: the parser says so
        # rounds + still_open is at least the deepest nesting and at most twice it
        if rounds + still_open > self.max_depth and _deepest(sequence, brackets, self._open) > (
            self.max_depth
        ):
            raise TooDeepError(self.max_depth)
        self._open = still_open


def _deepest(reduced: bytes, brackets: bytes, open_before: int) -> int:
    """The deepest nesting reached in ``brackets`` after ``open_before`` open containers."""
    if reduced.startswith(b")"):
        open_before = 0  # more closing than opening brackets: count from where it starts
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets), initial=open_before))
