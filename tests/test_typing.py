"""Decorated functions keep their signatures for type checkers (checked with mypy itself)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

SNIPPET = textwrap.dedent(
    """
    from collections.abc import AsyncIterator, Iterator

    from aiobs import observe


    @observe
    def add(a: int, b: int = 1) -> int:
        return a + b


    @observe(name="greeting", redact=["secret"])
    async def greet(name: str, *, secret: str) -> str:
        return name


    @observe
    def count(n: int) -> Iterator[int]:
        yield from range(n)


    @observe
    async def stream(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i


    total: int = add(1, b=2)
    reveal_type(add)
    reveal_type(greet)
    reveal_type(count)
    reveal_type(stream)
    add("one")
    pending = greet("ada")
    """
)


class TestSignatures:
    """mypy sees the original parameters and return types through @observe."""

    def test_reveal_and_reject(self, tmp_path: Path) -> None:
        source = tmp_path / "snippet.py"
        source.write_text(SNIPPET)
        stdout, _, status = mypy_api.run(
            ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)]
        )
        lines = [
            line.split(": ", 1)[1].replace("builtins.", "")
            for line in stdout.splitlines()
            if ": " in line
        ]
        reveals = [line for line in lines if line.startswith("note: Revealed type")]
        assert reveals == [
            'note: Revealed type is "def (a: int, b: int =) -> int"',
            'note: Revealed type is "def (name: str, *, secret: str) -> '
            'typing.Coroutine[Any, Any, str]"',
            'note: Revealed type is "def (n: int) -> typing.Iterator[int]"',
            'note: Revealed type is "def (n: int) -> typing.AsyncIterator[int]"',
        ], stdout
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 2, stdout
        assert 'Argument 1 to "add" has incompatible type "str"' in errors[0]
        assert 'Missing named argument "secret"' in errors[1]
        assert status == 1
