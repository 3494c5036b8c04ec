"""What each bad label does: through 0.2's module-level label functions and through observe().

The network hooks are patched on the class the way aiobs 0.2's users do in their tests, so that
0.2's ``observe()`` validates no key over the network.
"""

from __future__ import annotations

from typing import Any

import _compat

from aiobs import collector, observer
from aiobs.collector import Collector

Collector._validate_api_key = lambda self: None  # type: ignore[method-assign]
Collector._record_usage = lambda self, trace_count: None  # type: ignore[method-assign]
Collector._flush_to_server = lambda self, export: None  # type: ignore[method-assign]

KEYS: list[Any] = ["Env", "1abc", "a" * 64, "", "aiobs_custom", "with-dash", 3, None, "é"]
VALUES: list[Any] = [3, None, 1.5, "x" * 257, ["a"]]
LABEL_SETS: list[Any] = [
    ["env", "x"],
    "env=x",
    {f"k{i}": "v" for i in range(65)},
    {"env": "x", "Bad": "y"},
    {"env": 7},
]


def main() -> None:
    findings: dict[str, Any] = {"key": [], "value": [], "labels": [], "observe": []}
    for key in KEYS:
        findings["key"].append(_compat.outcome(lambda key=key: collector._validate_label_key(key)))
    for value in VALUES:
        findings["value"].append(
            _compat.outcome(lambda value=value: collector._validate_label_value(value, "env"))
        )
    for labels in LABEL_SETS:
        findings["labels"].append(
            _compat.outcome(lambda labels=labels: collector._validate_labels(labels))
        )
    for labels in (
        [{key: "v"} for key in KEYS if isinstance(key, str)]
        + [{"env": value} for value in VALUES]
        + [labels for labels in LABEL_SETS if isinstance(labels, dict)]
    ):
        findings["observe"].append(
            _compat.outcome(lambda labels=labels: observer.observe(api_key="k", labels=labels))
        )
    findings["valid"] = [
        _compat.outcome(lambda: collector._validate_label_key("env_2")),
        _compat.outcome(lambda: collector._validate_label_value("x" * 256, "env")),
        _compat.outcome(lambda: collector._validate_labels({"a": "b"})),
    ]
    findings["constants"] = {
        "pattern": collector.LABEL_KEY_PATTERN.pattern,
        "max_length": collector.LABEL_VALUE_MAX_LENGTH,
        "max_count": collector.LABEL_MAX_COUNT,
        "reserved": collector.LABEL_RESERVED_PREFIX,
        "env_prefix": collector.LABEL_ENV_PREFIX,
    }
    system = collector._get_system_labels()
    findings["system_label_keys"] = sorted(system)
    findings["env_labels"] = collector._get_env_labels()
    _compat.report(**findings)


main()
