"""Results that are not the SDK's own objects: what a test's fake of an SDK method returned.

Test suites replace SDK methods with fakes (``monkeypatch.setattr(Completions, "create", fake)``)
that return ``types.SimpleNamespace`` objects, plain dicts or small classes of their own, shaped
like the SDK's types. When aiobs wraps such a fake, its calls are recorded like the SDK's: the
result is read by field name, never by type. :func:`stand_in_fields` turns it into
:class:`Fields`, a dict whose keys also read as attributes and whose missing fields read as
``None``, so each provider's readers, written for the SDK's types, read it unchanged::

    if not made_by(result, "anthropic"):     # not an object of the SDK's own classes
        fields = stand_in_fields(result)     # None: nothing to read (a list, an iterator)
        outcome = message_outcome(fields)

The conversion copies only the result's structure (its containers), so the program's objects are
never changed; it runs only for results that are not the SDK's.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 16
"""Levels of nesting converted; deeper values are kept as they are."""

_KEPT = (str, bytes, int, float, type(None), enum.Enum)


class Fields(dict[str, Any]):
    """A stand-in result's fields: ``fields.usage`` is ``fields["usage"]``, ``None`` if absent.

    A field named like a dict method (``values``) reads as the field. For an object, a name that
    is not among its instance attributes (a property of the fake's class) is read from the object.
    """

    __slots__ = ("_source",)

    def __init__(self, values: dict[str, Any], source: Any = None) -> None:
        super().__init__(values)
        self._source = source

    def __getattribute__(self, name: str) -> Any:
        # A field wins over a dict method of the same name (Gemini's embeddings have ``values``).
        if not name.startswith("_") and dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        return super().__getattribute__(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # protocols and private names are not fields
            raise AttributeError(name)
        if name in self:
            return self[name]
        if self._source is not None:
            try:
                return plain(getattr(self._source, name, None))
            except Exception:  # noqa: BLE001 - a fake's property that fails reads as absent
                return None
        return None


_VERDICTS_LIMIT = 256
_verdicts: dict[tuple[type, str], bool] = {}


def made_by(value: Any, package: str) -> bool:
    """Whether ``value``'s class is defined in ``package`` (the SDK's own objects).

    Remembered per class: this runs on every recorded call, and reading a pydantic model class's
    ``__module__`` costs several times a dictionary lookup.
    """
    key = (type(value), package)
    verdict = _verdicts.get(key)
    if verdict is None:
        module = str(getattr(key[0], "__module__", ""))
        verdict = module == package or module.startswith(f"{package}.")
        if len(_verdicts) >= _VERDICTS_LIMIT:  # classes made on the fly: keep the table small
            _verdicts.clear()
        _verdicts[key] = verdict
    return verdict


def stand_in_fields(value: Any) -> Fields | None:
    """A stand-in result (not the SDK's own object) as :class:`Fields`.

    ``None`` when it has no fields to read (a list, an iterator, a string...).
    """
    converted = plain(value)
    return converted if isinstance(converted, Fields) else None


def plain(value: Any, depth: int = 0) -> Any:  # noqa: PLR0911 - one case per kind of value
    """``value`` with its mappings and objects as :class:`Fields` and its sequences as lists.

    Strings, numbers, enums and ``None`` are kept, and so are pydantic models (the SDKs' own
    types, which the readers know) and anything else without readable fields.
    """
    if isinstance(value, _KEPT) or depth > MAX_DEPTH:
        return value
    depth += 1
    if isinstance(value, Mapping):
        return Fields({str(key): plain(item, depth) for key, item in value.items()})
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a named tuple
        return Fields({key: plain(item, depth) for key, item in value._asdict().items()}, value)
    if isinstance(value, (list, tuple)):
        return [plain(item, depth) for item in value]
    if hasattr(type(value), "model_fields"):  # a pydantic model: read as it is
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [field.name for field in dataclasses.fields(value)]
        return Fields({name: plain(getattr(value, name), depth) for name in names}, value)
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        return Fields(
            {
                key: plain(item, depth)
                for key, item in attributes.items()
                if isinstance(key, str) and not key.startswith("_")
            },
            value,
        )
    return value


def fallback_text(fields: Fields, response: dict[str, Any] | None) -> None:
    """Fill ``response["text"]`` from the fake's ``output_text`` or ``text`` when none was read.

    Fakes often set only the convenience property the program reads (``response.output_text``
    of OpenAI's Responses API, ``response.text`` of Gemini's).
    """
    if response is None or response.get("text"):
        return
    for name in ("output_text", "text"):
        text = getattr(fields, name)
        if isinstance(text, str) and text:
            response["text"] = text
            return
