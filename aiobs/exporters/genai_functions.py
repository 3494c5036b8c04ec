"""The attributes of a function event's span: where its code is, and its data as opt-in content.

``code.function.name``, ``code.file.path`` and ``code.line.number`` describe the function itself
(``module.qualname``, the absolute path of its file, the first line of its definition). File and
line are recorded once when the function is decorated (``aiobs._records.definition``), so a
function defined inside another one gets its line too. A document exported by another process
(read from a file) has only the function's module and qualified name: there they are looked up
among the modules already imported (a function inside another one then keeps its module's file
and no line; one whose module is not loaded keeps only its name). A manual span or point event
is described by the line that opened it (its callsite). Where the call was made from goes out as
``aiobs.callsite.function`` / ``.file`` / ``.line``, as recorded.

With ``capture_content=True``: ``aiobs.function.arguments`` (JSON ``{"args", "kwargs"}``),
``aiobs.function.result`` (JSON; a generator's result is ``{"yielded": n}``), and
``aiobs.span.attributes`` (JSON: what ``span.set()`` recorded, or a point event's data). These are
the document's values: already redacted and cut to the capture limits when recorded.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Mapping
from typing import Any

from .._format import (
    CALLSITE_FILE,
    CALLSITE_FUNCTION,
    CALLSITE_LINE,
    EVENT_API,
    EVENT_CALLSITE,
    FUNCTION_ARGS,
    FUNCTION_ATTRIBUTES,
    FUNCTION_KIND,
    FUNCTION_KWARGS,
    FUNCTION_MODULE,
    FUNCTION_RESULT,
    FUNCTION_YIELDED,
    KIND_EVENT,
    KIND_SPAN,
    META_CWD,
    SESSION_META,
)
from .._records import definition
from .genai_attributes import (
    AIOBS_CALLSITE_FILE,
    AIOBS_CALLSITE_FUNCTION,
    AIOBS_CALLSITE_LINE,
    AIOBS_FUNCTION_ARGUMENTS,
    AIOBS_FUNCTION_RESULT,
    AIOBS_SPAN_ATTRIBUTES,
    CODE_FILE_PATH,
    CODE_FUNCTION_NAME,
    CODE_LINE_NUMBER,
)


def code_attributes(event: Mapping[str, Any], session: Mapping[str, Any]) -> dict[str, Any]:
    """``code.*`` describing the function (or the span's own line) and ``aiobs.callsite.*``."""
    callsite = event.get(EVENT_CALLSITE)
    callsite = callsite if isinstance(callsite, Mapping) else {}
    attributes: dict[str, Any] = {
        AIOBS_CALLSITE_FUNCTION: callsite.get(CALLSITE_FUNCTION),
        AIOBS_CALLSITE_FILE: callsite.get(CALLSITE_FILE),
        AIOBS_CALLSITE_LINE: callsite.get(CALLSITE_LINE),
    }
    if event.get(FUNCTION_KIND) in (KIND_SPAN, KIND_EVENT):  # a tuple: the value may be anything
        attributes[CODE_FUNCTION_NAME] = callsite.get(CALLSITE_FUNCTION)
        attributes[CODE_FILE_PATH] = _absolute(callsite.get(CALLSITE_FILE), session)
        attributes[CODE_LINE_NUMBER] = callsite.get(CALLSITE_LINE)
        return attributes
    api, module = event.get(EVENT_API), event.get(FUNCTION_MODULE)
    attributes[CODE_FUNCTION_NAME] = api
    known = definition(api) if isinstance(api, str) else None
    if known is not None:
        attributes[CODE_FILE_PATH], attributes[CODE_LINE_NUMBER] = known
    elif isinstance(api, str) and isinstance(module, str) and api.startswith(module + "."):
        path, line = _definition(module, api[len(module) + 1 :])
        attributes[CODE_FILE_PATH] = path
        attributes[CODE_LINE_NUMBER] = line
    return attributes


def content_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """A function's arguments and result, a span's attributes, as plain values."""
    args, kwargs = event.get(FUNCTION_ARGS), event.get(FUNCTION_KWARGS)
    arguments = None if args is None and kwargs is None else {"args": args, "kwargs": kwargs}
    result = event.get(FUNCTION_RESULT)
    if result is None and event.get(FUNCTION_YIELDED) is not None:
        result = {FUNCTION_YIELDED: event[FUNCTION_YIELDED]}
    return {
        AIOBS_FUNCTION_ARGUMENTS: arguments,
        AIOBS_FUNCTION_RESULT: result,
        AIOBS_SPAN_ATTRIBUTES: event.get(FUNCTION_ATTRIBUTES) or None,
    }


def _absolute(path: Any, session: Mapping[str, Any]) -> str | None:
    """A callsite's file (relative to the session's working directory) as an absolute path."""
    if not isinstance(path, str) or not path or path.startswith("<"):
        return None
    if os.path.isabs(path):
        return path
    meta = session.get(SESSION_META)
    cwd = meta.get(META_CWD) if isinstance(meta, Mapping) else None
    if not isinstance(cwd, str) or not cwd:
        return None
    return os.path.normpath(os.path.join(cwd, path))


@functools.lru_cache(maxsize=1024)
def _definition(module_name: str, qualname: str) -> tuple[str | None, int | None]:
    """(absolute file, first line) of ``module_name.qualname`` if its module is imported."""
    module = sys.modules.get(module_name)
    if module is None:
        return None, None
    file = getattr(module, "__file__", None)
    path = os.path.abspath(file) if isinstance(file, str) else None
    if "<locals>" in qualname:
        return path, None
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            return path, None
    try:
        code = getattr(inspect.unwrap(target), "__code__", None)
    except ValueError:  # a cycle of __wrapped__
        code = None
    if code is None:
        return path, None
    return os.path.abspath(code.co_filename), int(code.co_firstlineno)
