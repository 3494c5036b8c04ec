"""CustomExporter: how the handler is called, what its return value becomes, how it fails."""

from __future__ import annotations

from typing import Any

import _compat

from aiobs.exporters import CustomExporter, ExportError, ExportResult

data = _compat.sample()
calls: list[dict[str, Any]] = []


def positional(received: Any, options: Any) -> Any:
    """The aiobs 0.2 form: the options arrive as one dict."""
    calls.append(
        {
            "data_type": type(received).__name__,
            "same_data": received is data,
            "options": _compat.plain(options),
            "options_type": type(options).__name__,
        }
    )
    return options.get("returns")


def export_with(handler: Any, **kwargs: Any) -> dict[str, Any]:
    calls.clear()
    exporter = CustomExporter(handler, default_options={"region": "eu", "returns": None})
    found = _compat.outcome(lambda: exporter.export(data, **kwargs))
    found["calls"] = list(calls)
    return found


returned = ExportResult(True, destination="queue://given", bytes_written=3)
returns: dict[str, Any] = {
    "none": None,
    "dict_full": {
        "success": False,
        "destination": "queue://x",
        "bytes_written": 10,
        "metadata": {"id": 7},
        "error": "refused",
        "ignored": "extra key",
    },
    "dict_empty": {},
    "dict_metadata_none": {"metadata": None},
    "dict_success_truthy": {"success": "yes"},
    "true": True,
    "false": False,
    "zero": 0,
    "string": "sent",
    "list": [1, 2],
}
findings: dict[str, Any] = {
    f"returns_{name}": export_with(positional, returns=value) for name, value in returns.items()
}
findings["returns_result_is_passed_on"] = _compat.outcome(
    lambda: CustomExporter(lambda d, o: returned).export(data) is returned
)
findings["options_merged"] = export_with(positional, region="us", extra=1)


def failing(received: Any, options: Any) -> Any:
    raise options["error"]


findings["raises_value_error"] = export_with(failing, error=ValueError("queue down"))
findings["raises_export_error"] = export_with(failing, error=ExportError("inner", cause=None))
findings["raises_key_error"] = export_with(failing, error=KeyError("k"))

findings["names"] = {
    "default": CustomExporter(positional).name,
    "empty": CustomExporter(positional, name="").name,
    "given": CustomExporter(positional, name="queue").name,
    "class": CustomExporter.name,
}
findings["name_in_metadata"] = _compat.outcome(
    lambda: CustomExporter(lambda d, o: None, name="queue").export(data)
)
findings["not_callable"] = _compat.outcome(lambda: CustomExporter("handler"))  # type: ignore[arg-type]
options = {"a": 1}
exporter = CustomExporter(positional, default_options=options)
findings["private_attributes"] = {
    "handler": exporter._handler is positional,
    "default_options_kept": exporter._default_options is options,
}


class Checked(CustomExporter):
    def validate(self, data: Any) -> bool:
        raise ValueError("invalid data")


findings["validate_raises"] = _compat.outcome(lambda: Checked(positional).export(data))


def keywords(received: Any, **options: Any) -> Any:
    """This package's form: the options as keyword arguments."""
    calls.append({"options": _compat.plain(options)})
    return None


findings["keyword_handler"] = export_with(keywords, extra=1)
_compat.report(**findings)
