"""The flush server takes from the SDK only what it must, so that either can change alone."""

from __future__ import annotations

import ast
from pathlib import Path

import aiobs.server

SERVER = Path(aiobs.server.__file__).resolve().parent

ALLOWED = {"aiobs._format", "aiobs.tree", "aiobs._env", "aiobs._version"}
"""The document's field names, the trace tree, environment variable names and the version."""


def imported_modules(path: Path) -> set[str]:
    """The absolute names of the modules that ``path`` (a module of aiobs.server) imports."""
    package = ".".join(("aiobs", *path.relative_to(SERVER.parent).parent.parts))
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if node.module is None:  # "from .. import x": x may be a module
                found.update(f"{module}.{alias.name}" for alias in node.names)
            else:
                found.add(module)
    return found


class TestServerImports:
    """aiobs.server imports from the rest of aiobs only the format, the tree, _env and _version."""

    def test_only_the_allowed_sdk_modules(self) -> None:
        outside: dict[str, set[str]] = {}
        for path in sorted(SERVER.rglob("*.py")):
            sdk = {
                name
                for name in imported_modules(path)
                if (name == "aiobs" or name.startswith("aiobs."))
                and not (name == "aiobs.server" or name.startswith("aiobs.server."))
            }
            if sdk - ALLOWED:
                outside[str(path.relative_to(SERVER))] = sdk - ALLOWED
        assert outside == {}

    def test_the_check_sees_relative_imports(self) -> None:
        """The storage's relative import of the tree resolves to aiobs.tree."""
        assert "aiobs.tree" in imported_modules(SERVER / "storage" / "sessions.py")
        assert "aiobs._format" in imported_modules(SERVER / "storage" / "document.py")
        assert "aiobs._version" in imported_modules(SERVER / "app.py")
