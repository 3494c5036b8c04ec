"""The callsite of a provider call: the program's innermost frame, found in C or in Python.

:data:`aiobs.providers.call.find_callsite` is the C walk (``aiobs._speedups.program_callsite``)
where the module is built, else :func:`~aiobs.providers.call.user_callsite`; both must name the
same frame from the same place, whatever the frames above are.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from aiobs import _native
from aiobs.providers import call as call_module
from aiobs.providers.call import _is_program_module, _program_modules, user_callsite

speedups = _native.speedups
needs_c = pytest.mark.skipif(speedups is None, reason="aiobs._speedups is not built")


def both_from_here(depth: int) -> tuple[Any, Any]:
    """Both walks, called from this same frame and line (the frame ``depth`` 1 means)."""
    assert speedups is not None
    c_walk = functools.partial(speedups.program_callsite, _program_modules, _is_program_module)
    return user_callsite(depth), c_walk(depth)


def run_in_module(module_name: str | None, source: str) -> dict[str, Any]:
    """Run ``source`` with globals named ``module_name`` (no ``__name__`` at all for None)."""
    namespace: dict[str, Any] = {"both_from_here": both_from_here}
    if module_name is not None:
        namespace["__name__"] = module_name
    exec(
        compile(source, f"<{module_name}>", "exec"), namespace
    )  # test frames in modules of chosen names
    return namespace


LIBRARY_FRAME = """
def library(depth):
    return both_from_here(depth)
"""


@needs_c
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 50_000])
def test_the_same_frame_from_a_plain_caller(depth: int) -> None:
    in_python, in_c = both_from_here(depth)
    assert in_c == in_python
    if depth == 1:  # this module is not aiobs's nor an SDK's: its own frame
        assert in_c is not None
        assert in_c[2] == "both_from_here"


@needs_c
@pytest.mark.parametrize(
    ("module_name", "expected"),
    [
        ("aiobs.providers.something", "test_frames_of_libraries_are_skipped"),
        ("openai.resources.chat", "test_frames_of_libraries_are_skipped"),
        ("aiobs.examples.demo", "library"),  # aiobs's examples are a program's code
        ("my_app.client", "library"),
        (None, "library"),  # no module name: not a library's
    ],
)
def test_frames_of_libraries_are_skipped(module_name: str | None, expected: str) -> None:
    library = run_in_module(module_name, LIBRARY_FRAME)["library"]
    in_python, in_c = library(2)  # past both_from_here: library's frame, then this test's
    assert in_c == in_python
    assert in_c is not None
    assert in_c[2] == expected


@needs_c
def test_a_module_name_that_is_not_a_string_counts_as_the_programs() -> None:
    namespace = run_in_module("placeholder", LIBRARY_FRAME)
    namespace["__name__"] = 42
    in_python, in_c = namespace["library"](2)
    assert in_c == in_python
    assert in_c is not None
    assert in_c[2] == "library"


@needs_c
def test_new_modules_are_remembered_like_the_python_walk_does() -> None:
    name = "fresh_module_for_the_callsite_test"
    _program_modules.pop(name, None)
    assert speedups is not None
    site = functools.partial(speedups.program_callsite, _program_modules, _is_program_module)
    assert site(1) is not None
    assert name not in _program_modules  # depth 1 is this test's frame, not the module's
    library_site = run_in_module(name, "def at():\n    return site(1)\n")
    library_site["site"] = site
    found = library_site["at"]()
    assert found is not None
    assert found[2] == "at"
    assert _program_modules[name] is True


@needs_c
def test_bad_arguments_are_refused() -> None:
    assert speedups is not None
    walk: Any = speedups.program_callsite  # called wrongly on purpose
    with pytest.raises(TypeError, match="program_callsite"):
        walk({}, _is_program_module)
    with pytest.raises(TypeError, match="program_callsite"):
        walk([], _is_program_module, 1)


def test_the_recording_path_uses_the_c_walk_where_built() -> None:
    if speedups is None:
        assert call_module.find_callsite is user_callsite
    else:
        assert isinstance(call_module.find_callsite, functools.partial)
        assert call_module.find_callsite.func is speedups.program_callsite
