"""Wheel build hook: compiles ``aiobs/_speedups.c``, the optional C wrapper of ``@observe``.

The extension is optional. Without a C compiler, on another implementation than CPython, on
Windows, on a free-threaded build, or with ``AIOBS_BUILD_PURE=1``, the wheel is pure Python and ``@observe`` uses its
Python wrapper, which records the same thing (a little slower). An editable install
(``pip install -e .``) compiles the module in place, next to its source.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("aiobs") / "_speedups.c"


def compile_extension(source: Path, target: Path) -> str | None:
    """Compile and link ``source`` into the extension module ``target``; an error, or None."""
    link = sysconfig.get_config_var("LDSHARED") or "cc -shared"
    include = sysconfig.get_paths()["include"]
    command = [
        *shlex.split(link),
        "-O2",
        "-fPIC",
        "-fvisibility=hidden",
        f"-I{include}",
        str(source),
        "-o",
        str(target),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    except OSError as exc:
        return f"{command[0]}: {exc}"
    if done.returncode != 0:
        return done.stderr.strip() or f"{command[0]} exited with {done.returncode}"
    return None


class SpeedupsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the compiled ``aiobs._speedups`` to the wheel, or leaves the wheel pure Python."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile the extension for the interpreter that runs the build."""
        if self.target_name != "wheel":
            return
        why_not = self._unsupported()
        if why_not:
            self.app.display_info(f"aiobs._speedups not built ({why_not}): pure Python")
            return
        name = "_speedups" + str(sysconfig.get_config_var("EXT_SUFFIX"))
        root = Path(self.root)
        if version == "editable":
            target = root / "aiobs" / name
        else:
            target = Path(self.directory) / "speedups-build" / name
            target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # never leave a module built from an older source
        error = compile_extension(root / SOURCE, target)
        if error is not None:
            self.app.display_warning(f"aiobs._speedups not built, pure Python instead:\n{error}")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = f"aiobs/{name}"

    @staticmethod
    def _unsupported() -> str | None:
        if os.environ.get("AIOBS_BUILD_PURE", "").lower() in {"1", "true", "yes", "on"}:
            return "AIOBS_BUILD_PURE is set"
        if platform.python_implementation() != "CPython":
            return f"{platform.python_implementation()} is not CPython"
        if sys.platform == "win32":
            return "no build recipe for Windows"
        if sysconfig.get_config_var("Py_GIL_DISABLED"):
            return "a free-threaded build: the module relies on the GIL"
        return None
