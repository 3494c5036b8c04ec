"""CompositeExporter: what each exporter receives, how results add up, what is raised and when."""

from __future__ import annotations

from typing import Any

import _compat

from aiobs.exporters import BaseExporter, CompositeExporter, ExportError, ExportResult

data = _compat.sample()
log: list[dict[str, Any]] = []


class Scripted(BaseExporter):
    """An exporter written for aiobs 0.2 that does what it is told and notes what it got."""

    def __init__(self, name: str, action: Any = None) -> None:
        self.name = name
        self.action = action

    def export(self, data_: Any, **kwargs: Any) -> ExportResult:
        log.append(
            {
                "exporter": self.name,
                "data_type": type(data_).__name__,
                "same_data": data_ is data,
                "kwargs": _compat.plain(kwargs),
            }
        )
        if isinstance(self.action, BaseException):
            raise self.action
        if self.action is not None:
            return self.action  # type: ignore[no-any-return]
        return ExportResult(True, destination=f"{self.name}://", bytes_written=5, metadata={"n": 1})


def run(exporters: list[Any], stop_on_error: bool = False, **kwargs: Any) -> dict[str, Any]:
    log.clear()
    composite = CompositeExporter(exporters, stop_on_error=stop_on_error)
    found = _compat.outcome(lambda: composite.export(data, **kwargs))
    found["calls"] = list(log)
    return found


failed = ExportResult(False, destination="b://", error="refused")
failed_silently = ExportResult(False)
raising = ExportError("disk full", cause=OSError("no space"))
findings: dict[str, Any] = {
    "all_succeed": run([Scripted("a"), Scripted("b")], region="eu"),
    "a_failed_result": run([Scripted("a"), Scripted("b", failed), Scripted("c")]),
    "a_failed_result_without_error": run([Scripted("a", failed_silently), Scripted("b")]),
    "failed_result_with_stop_on_error": run(
        [Scripted("a", failed), Scripted("b")], stop_on_error=True
    ),
    "export_error": run([Scripted("a", raising), Scripted("b")]),
    "export_error_with_stop_on_error": run(
        [Scripted("a"), Scripted("b", raising), Scripted("c")], stop_on_error=True
    ),
}

stopper = ExportError("stop here")
composite = CompositeExporter([Scripted("a", stopper)], stop_on_error=True)
try:
    composite.export(data)
except ExportError as exc:
    findings["stop_on_error_raises_the_same_exception"] = exc is stopper

exporters = [Scripted("a")]
composite = CompositeExporter(exporters)
added = composite.add(Scripted("b"))
findings["add"] = {
    "returns_self": added is composite,
    "appended_to_the_given_list": [e.name for e in exporters],
    "export": run(composite._exporters),
}
findings["private_attributes"] = {
    "exporters": composite._exporters is exporters,
    "stop_on_error": composite._stop_on_error,
    "name": composite.name,
}
findings["empty"] = _compat.outcome(lambda: CompositeExporter([]))
findings["nested"] = run([CompositeExporter([Scripted("a")]), Scripted("b")])


class Checked(CompositeExporter):
    def validate(self, data: Any) -> bool:
        raise ValueError("invalid data")


findings["validate_raises"] = _compat.outcome(lambda: Checked([Scripted("a")]).export(data))
# Differences on purpose (README, "Compatibility with aiobs 0.2"):
findings["other_exception"] = run([Scripted("a", KeyError("bug")), Scripted("b")])
findings["not_an_exporter"] = _compat.outcome(lambda: CompositeExporter([object()]).export(data))
_compat.report(**findings)
