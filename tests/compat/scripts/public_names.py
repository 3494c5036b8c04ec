"""The public names of the modules given as arguments, with their signatures.

An argument is a module (``aiobs.exporters``: its public names) or a module and the names to
describe (``aiobs.exporters=GCSExporter,CustomExporter``: those, public or not, present or not;
a dotted name such as ``Collector._flush_to_server`` describes an attribute of a class).

For each module: its ``__all__`` if it has one, else every name not starting with ``_`` whose value
belongs to aiobs (names a module merely imported from the standard library or typing are not
its API). For each name: what it is, the signature of a callable, and for a class the
signatures of its public methods and the values of its simple class attributes.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
import typing
from typing import Any

import _compat

MISSING = "<missing>"


def parameters(target: Any) -> Any:
    """``[name, kind, default]`` per parameter, or ``None`` when there is no signature."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    return [
        [
            p.name,
            p.kind.name,
            MISSING if p.default is inspect.Parameter.empty else repr(p.default),
        ]
        for p in signature.parameters.values()
    ]


def describe_class(cls: type) -> dict[str, Any]:
    methods: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        raw = inspect.getattr_static(cls, name)
        value = getattr(cls, name)
        if isinstance(raw, (classmethod, staticmethod)) or inspect.isfunction(value):
            kind = type(raw).__name__ if isinstance(raw, (classmethod, staticmethod)) else "method"
            methods[name] = {"kind": kind, "parameters": parameters(value)}
        elif value is None or isinstance(value, (bool, int, float, str)):
            attributes[name] = repr(value)
    return {
        "what": "class",
        "parameters": parameters(cls),
        "methods": methods,
        "attributes": attributes,
        "bases": [base.__name__ for base in cls.__mro__],
    }


def describe(value: Any) -> dict[str, Any]:
    if isinstance(value, type):
        return describe_class(value)
    if isinstance(value, types.ModuleType):
        return {"what": "module"}
    if callable(value) and not _is_typing(value) and typing.get_origin(value) is None:
        return {"what": "callable", "parameters": parameters(value)}
    return {"what": "value", "type": type(value).__name__}


def _is_typing(value: Any) -> bool:
    return type(value).__module__ == "typing"


def public_names(module: types.ModuleType) -> list[str]:
    explicit = getattr(module, "__all__", None)
    if explicit is not None:
        return sorted(explicit)
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", None) if not _is_typing(value) else None
        # A subscripted alias (``Callable[[...], ...]``) is a type the module defines.
        defined_here = _is_typing(value) and bool(typing.get_args(value))
        if defined_here or (isinstance(origin, str) and origin.split(".")[0] == "aiobs"):
            names.append(name)
    return sorted(names)


def lookup(module: types.ModuleType, dotted: str) -> Any:
    """The description of ``module.<dotted>``, or :data:`MISSING`."""
    target: Any = module
    for part in dotted.split("."):
        if not hasattr(target, part):
            return MISSING
        target = getattr(target, part)
    return describe(target)


def main() -> None:
    modules: dict[str, Any] = {}
    for argument in sys.argv[1:]:
        module_name, _, listed = argument.partition("=")
        module = importlib.import_module(module_name)
        names = listed.split(",") if listed else public_names(module)
        modules[module_name] = {name: lookup(module, name) for name in names}
        modules[module_name]["__dir__"] = sorted(dir(module))
    _compat.report(modules=modules)


main()
