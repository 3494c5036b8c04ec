"""An exporter made from a function: the quickest way to send documents somewhere new.

As in aiobs 0.2::

    def to_queue(data: ObservabilityExport, *, topic: str) -> None:
        queue.publish(topic, data.model_dump_json())

    observer.flush(exporter=CustomExporter(to_queue, name="queue", default_options={"topic": "t"}))

The handler receives the document as :class:`~aiobs.models.ObservabilityExport` and the options
(``default_options`` updated with the keyword arguments given to ``flush()``). It may return an
:class:`ExportResult`; any other return value counts as success. An exception counts as a failed
export: the data stays buffered for the next flush.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .base import BaseExporter, ExportError, ExportResult

if TYPE_CHECKING:
    from ..models import ObservabilityExport


class CustomExporter(BaseExporter):
    """Calls ``handler(data, **options)`` for each export.

    Args:
        handler: the function that delivers a document.
        name: how the exporter is named in results and logs.
        default_options: keyword arguments passed to every call, overridden by those given to
            ``flush()``.

    Raises:
        TypeError: ``handler`` is not callable.
    """

    def __init__(
        self,
        handler: Callable[..., Any],
        name: str = "custom",
        default_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(handler):
            raise TypeError(f"CustomExporter needs a callable handler, got {handler!r}")
        self.handler = handler
        self.name = name
        self.default_options = dict(default_options or {})

    def __repr__(self) -> str:
        return f"CustomExporter(name={self.name!r})"

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
        """Hand ``data`` to the handler; wrap what it returns or raises."""
        options = {**self.default_options, **kwargs}
        try:
            returned = self.handler(data, **options)
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(
                f"exporter {self.name!r}: {type(exc).__name__}: {exc}", cause=exc
            ) from exc
        if isinstance(returned, ExportResult):
            return returned
        return ExportResult(True, destination=self.name, metadata={"returned": returned})
