"""The locks in requirements/ agree with pyproject.toml for every supported Python version.

``make test`` installs the development environment from ``requirements/dev.lock`` without
resolving ``pyproject.toml`` again, so a requirement added or tightened there without
``make lock`` would otherwise go unnoticed until some machine lacks the package.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the lock installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
REFRESH = "run `make lock LOCK_FLAGS=` to bring the locks in line with pyproject.toml"


def environment(python: str) -> dict[str, str]:
    """Marker values for CPython ``python`` on this platform."""
    values: dict[str, str] = dict(default_environment())
    values.update(python_version=python, python_full_version=f"{python}.0")
    return values


def read_lock(name: str) -> list[Requirement]:
    """The pins of ``requirements/<name>`` (hashes and comments left out)."""
    lines = (REQUIREMENTS / name).read_text(encoding="utf-8").splitlines()
    return [Requirement(line.removesuffix("\\").strip()) for line in lines if line[:1].isalnum()]


def pins_for(lock: list[Requirement], python: str) -> dict[str, str]:
    """Name to pinned version, for the entries of ``lock`` that apply to ``python``."""
    env = environment(python)
    pins: dict[str, str] = {}
    for pin in lock:
        if pin.marker is not None and not pin.marker.evaluate(env):
            continue
        [spec] = pin.specifier
        assert spec.operator == "==", f"{pin} is not an exact pin"
        name = canonicalize_name(pin.name)
        assert name not in pins, f"{name} is pinned twice for Python {python}"
        pins[name] = spec.version
    return pins


def wanted(*extras: str) -> list[Requirement]:
    """aiobs's dependencies and those of ``extras``, as pyproject.toml declares them."""
    project: dict[str, Any] = PYPROJECT["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def unmet(requirements: list[Requirement], pins: dict[str, str], python: str) -> list[str]:
    """The requirements that ``pins`` leave out or pin at a version they do not allow."""
    env = environment(python)
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        version = pins.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement} (locked: {version})")
    return problems


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize(
    ("lock", "extras"),
    [("dev.lock", ("dev",)), ("bench.lock", ("dev", "bench")), ("oldest.lock", ("dev",))],
)
def test_the_lock_pins_every_requirement(lock: str, extras: tuple[str, ...], python: str) -> None:
    pins = pins_for(read_lock(lock), python)
    assert unmet(wanted(*extras), pins, python) == [], REFRESH


@pytest.mark.parametrize("python", PYTHONS)
def test_the_bench_lock_keeps_the_dev_versions(python: str) -> None:
    dev = pins_for(read_lock("dev.lock"), python)
    bench = pins_for(read_lock("bench.lock"), python)
    assert {name: bench.get(name) for name in dev} == dev, REFRESH


@pytest.mark.parametrize("python", PYTHONS)
def test_the_oldest_lock_pins_the_oldest_sdks(python: str) -> None:
    sdks = [
        Requirement(line)
        for line in (REQUIREMENTS / "oldest-sdks.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = pins_for(read_lock("oldest.lock"), python)
    assert unmet(sdks, pins, python) == [], REFRESH
