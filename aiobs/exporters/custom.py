"""An exporter made from a function: the quickest way to send documents somewhere new.

As in aiobs 0.2, the handler receives the document and one dict of options::

    def to_queue(data: ObservabilityExport, options: dict[str, Any]) -> None:
        queue.publish(options["topic"], data.model_dump_json())

    exporter = CustomExporter(to_queue, name="queue", default_options={"topic": "traces"})
    observer.flush(exporter=exporter)

The options are ``default_options`` updated with the keyword arguments given to ``flush()``. A
handler that cannot take them as a second argument (``def to_queue(data, *, topic)``, or
``def to_queue(data, **options)``) gets them as keyword arguments instead.

What the handler returns becomes the export's :class:`ExportResult`: an ``ExportResult`` is
passed on; ``None`` is a success; a dict gives the result's fields (``success``, default
``True``, ``destination``, ``bytes_written``, ``metadata``, ``error``); anything else (``False``
included) is a success noted in the metadata. An exception becomes an :class:`ExportError`
(``"Custom export handler failed: ..."``, the exception as its ``cause``); ``flush()`` then keeps
the data for the next flush.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..models import ObservabilityExport
from .base import BaseExporter, ExportError, ExportResult
from .composite import CompositeExporter  # aiobs 0.2 defined it here: ``from .custom import``

__all__ = [
    "BaseExporter",
    "CompositeExporter",
    "CustomExporter",
    "ExportError",
    "ExportHandler",
    "ExportResult",
    "InvalidHandlerError",
    "ObservabilityExport",
]

ExportHandler = Callable[
    [ObservabilityExport, dict[str, Any]], ExportResult | dict[str, Any] | None
]
"""What a handler looks like (the aiobs 0.2 form)."""


class InvalidHandlerError(TypeError, ValueError):
    """The handler given to :class:`CustomExporter` is not callable.

    A ``ValueError``, as aiobs 0.2 raised, and a ``TypeError``, which is what it is.
    """


class CustomExporter(BaseExporter):
    """Calls ``handler(data, options)`` for each export (see the module's documentation).

    Args:
        handler: the function that delivers a document.
        name: how the exporter is named in results and logs (``"custom"`` when not given).
        default_options: options passed to every call, updated by those given to ``flush()``.

    Raises:
        InvalidHandlerError: ``handler`` is not callable.
    """

    name: str = "custom"

    def __init__(
        self,
        handler: ExportHandler | Callable[..., Any],
        name: str | None = None,
        default_options: dict[str, Any] | None = None,
    ) -> None:
        if not callable(handler):
            raise InvalidHandlerError("handler must be a callable")
        self._handler: Callable[..., Any] = handler
        if name:
            self.name = name
        self._default_options = default_options or {}

    @property
    def handler(self) -> Callable[..., Any]:
        """The function that delivers a document."""
        return self._handler

    @property
    def default_options(self) -> dict[str, Any]:
        """Options passed to every call."""
        return self._default_options

    def __repr__(self) -> str:
        return f"CustomExporter(name={self.name!r})"

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
        """Hand ``data`` and the options to the handler; turn what it returns into a result.

        Raises:
            ExportError: the handler raised (the exception is its ``cause``).
        """
        self.validate(data)
        options = {**self._default_options, **kwargs}
        try:
            if takes_options_dict(self._handler):
                returned = self._handler(data, options)
            else:
                returned = self._handler(data, **options)
            return as_result(returned, self.name)
        except Exception as exc:
            raise ExportError(f"Custom export handler failed: {exc}", cause=exc) from exc


def takes_options_dict(handler: Callable[..., Any]) -> bool:
    """Whether ``handler(data, options)`` is the way to call it (the aiobs 0.2 form).

    False for a handler that cannot take a second positional argument: it gets the options as
    keyword arguments. A callable whose signature cannot be read gets the 0.2 form.
    """
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(None, {})
    except TypeError:
        return False
    return True


def as_result(returned: object, name: str) -> ExportResult:
    """What a handler returned, as the export's result (the rules of aiobs 0.2)."""
    if returned is None:
        return ExportResult(success=True, metadata={"handler": name})
    if isinstance(returned, ExportResult):
        return returned
    if isinstance(returned, dict):
        return ExportResult(
            success=returned.get("success", True),
            destination=returned.get("destination"),
            bytes_written=returned.get("bytes_written"),
            metadata=returned.get("metadata", {}),
            error=returned.get("error"),
        )
    return ExportResult(success=True, metadata={"handler": name, "result": str(returned)})
