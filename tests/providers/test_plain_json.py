"""``aiobs._speedups.plain_json`` writes the bytes ``pydantic_core.to_json`` writes, or declines.

:func:`aiobs.providers.call.freeze` freezes a provider call's request and response with it where
the module is built, and falls back to ``pydantic_core.to_json`` when it gives ``None``. Either
way the frozen bytes must be the same, so these tests compare the two on generated values, and
check that the common shapes are written in C rather than declined.
"""

from __future__ import annotations

import math
import sys
from enum import Enum
from typing import Any

import pydantic_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiobs import _native
from aiobs._config import Settings
from aiobs.providers import call as call_module
from aiobs.providers.call import freeze, thaw

speedups = _native.speedups
needs_c = pytest.mark.skipif(speedups is None, reason="aiobs._speedups is not built")


def plain_json(value: Any) -> bytes | None:
    """``aiobs._speedups.plain_json`` (the tests that call it need the module)."""
    assert speedups is not None
    written: bytes | None = speedups.plain_json(value)
    return written


def pydantic_json(value: Any) -> bytes | None:
    """What freeze() wrote before: pydantic_core's bytes, or None where it refuses the value."""
    try:
        return pydantic_core.to_json(value, by_alias=False, exclude_none=True)
    except Exception:  # refused: plain_json must decline it too
        return None


class Colour(str, Enum):
    RED = "red"


class Text(str):
    pass


floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 0.1, 0.7, 1.0, 1e-4, 1e-5, 1e15, 1e16, 1e22, 5e-324, 1.7976931348623157e308]
)
ints = st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
scalars = (
    st.none()
    | st.booleans()
    | ints
    | floats
    | st.text()
    | st.text(alphabet=st.characters(codec="utf-8", max_codepoint=0x7F))
    | st.sampled_from(["\ud800", "a\udfffb", "\x00\x1f\x7f\u2028", '"\\/', Colour.RED, Text("t")])
)
keys = st.text() | st.sampled_from(["\ud800", "\n"]) | st.integers(0, 3)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=30,
)


@needs_c
@settings(max_examples=600, deadline=None)
@given(values)
def test_plain_json_writes_what_pydantic_core_writes(value: Any) -> None:
    written = plain_json(value)
    if written is not None:
        assert written == pydantic_json(value)


@needs_c
@pytest.mark.parametrize(
    "value",
    [
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief.\nAnswer in French: « oui » 😀"},
                {"role": "user", "content": 'Say "hi"\t\\ twice'},
            ],
            "temperature": 0.2,
            "max_tokens": 64,
            "stream": False,
            "stop": None,
            "logit_bias": {"50256": -100},
        },
        {
            "id": "chatcmpl-1",
            "model": "gpt-4o-mini",
            "text": "Bonjour",
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 12,
                "total_tokens": 21,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": None},
            },
            "finish_reasons": ["stop"],
        },
        ("a", 1, [2.5, None, True, False], {}),
        2**100,
        -(2**63),
        "x" * 5000,
        "é" * 3000,
    ],
)
def test_the_common_shapes_are_written_in_c(value: Any) -> None:
    written = plain_json(value)
    assert written is not None
    assert written == pydantic_json(value)


@needs_c
@pytest.mark.parametrize(
    "value",
    [
        1e-5,
        1e16,
        math.inf,
        math.nan,
        "\ud800",
        {1: "int key"},
        {"k": Colour.RED},
        [Text("subclass")],
        {"when": object()},
        b"bytes",
        {"a": [1, {2, 3}]},
    ],
)
def test_what_it_declines(value: Any) -> None:
    assert plain_json(value) is None


@needs_c
def test_nesting_and_cycles_are_declined_not_followed() -> None:
    deep: Any = "leaf"
    for _ in range(64):
        deep = [deep]
    assert plain_json(deep) == pydantic_json(deep)
    assert plain_json([deep]) is None  # 65 levels: left to pydantic_core
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    assert plain_json(cyclic) is None
    listed: list[Any] = [1]
    listed.append(listed)
    assert plain_json(listed) is None


@needs_c
def test_the_programs_strings_are_not_changed() -> None:
    """Writing a non-ASCII string must not leave a UTF-8 copy cached in the program's object."""
    text = "".join(chr(0x4E00 + i) for i in range(10_000))
    size = sys.getsizeof(text)
    assert plain_json({"content": text}) is not None
    assert sys.getsizeof(text) == size


@pytest.mark.parametrize(
    "value",
    [
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.7},
        {"n": 1e-5, "big": 2**80, "inf": math.inf},
        {"k": Colour.RED, 3: "int key", "s": {1, 2}},
        {"bad": "\ud800", "fine": "ok"},
    ],
)
def test_freeze_gives_the_same_value_with_and_without_c(
    value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    capturer = Settings().capturer
    frozen = freeze(value, capturer)
    monkeypatch.setattr(call_module, "_plain_json", None)
    assert thaw(freeze(value, capturer)) == thaw(frozen)
