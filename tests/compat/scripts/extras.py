"""Report the installed aiobs distribution's extras and the packages each one brings."""

from __future__ import annotations

import importlib.metadata
import re

from _compat import report

metadata = importlib.metadata.metadata("aiobs")
extras: dict[str, list[str]] = {name: [] for name in metadata.get_all("Provides-Extra") or []}
for requirement in metadata.get_all("Requires-Dist") or []:
    marker = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
    if marker and marker.group(1) in extras:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        if name:
            extras[marker.group(1)].append(name.group(0).lower().replace("_", "-"))
report(extras={name: sorted(set(packages)) for name, packages in extras.items()})
