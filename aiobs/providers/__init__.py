"""Automatic instrumentation of the OpenAI, Google Gemini and Anthropic SDKs.

Starting a session (``observer.observe()`` or ``observer.session()``) installs every provider whose
SDK is installed, once: an SDK already imported is patched at once, any other when the program
imports it (aiobs never imports an SDK just to look at it). ``observer.instrument(...)`` and
``observer.uninstrument(...)`` give explicit control; asking for a provider whose SDK is missing or
too old raises :class:`ProviderUnavailable` with an install hint, where the automatic path skips
it quietly.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterable
from types import ModuleType

from .._context import suppress_instrumentation
from .._guard import report_internal_error
from . import _hooks
from .base import Patch, Provider, ProviderUnavailable
from .call import LLMCall, library_modules
from .registry import REGISTRY, SDK_MODULES, provider_class

_instances: dict[str, Provider] = {}
_waiting: set[str] = set()  # providers whose SDK import is awaited
_absent: set[str] = set()  # SDK modules found missing (looked up once)
_auto_off = False  # set by uninstrument() of all providers
_lock = threading.RLock()


def provider(name: str) -> Provider:
    """The integration object for ``name``.

    Raises:
        ValueError: no provider has that name.
    """
    with _lock:
        if name in _instances:
            return _instances[name]
        if name not in REGISTRY:
            raise ValueError(
                f"Unknown provider {name!r}; known providers are: {', '.join(sorted(REGISTRY))}"
            )
        instance = provider_class(REGISTRY[name])()
        _instances[name] = instance
        return instance


def _names(names: Iterable[str] | None) -> list[str]:
    if names is None:
        return list(REGISTRY)
    if isinstance(names, str):
        return [names]
    chosen = list(names)
    for name in chosen:
        if not isinstance(name, str):
            raise TypeError(f"Provider names are strings, got {name!r}")
    return chosen


def instrument(names: Iterable[str] | str | None = None) -> list[str]:
    """Install the named providers now (all when ``None``); return those installed.

    Imports each SDK. Raises :class:`ProviderUnavailable` for a named provider whose SDK is
    missing or too old; with ``None``, such providers are skipped.
    """
    global _auto_off  # noqa: PLW0603 - process-wide switch, as the patches are
    explicit = names is not None
    _auto_off = False
    installed = []
    for name in _names(names):
        integration = provider(name)
        try:
            integration.install()
        except ProviderUnavailable:
            if explicit:
                raise
            continue
        installed.append(name)
    if installed:
        _read_callsite_filter()
    return installed


def uninstrument(names: Iterable[str] | str | None = None) -> None:
    """Restore the SDKs' original methods (all providers when ``None``).

    With ``None`` this also stops sessions from installing providers automatically, until
    :func:`instrument` is called again.
    """
    global _auto_off  # noqa: PLW0603 - process-wide switch, as the patches are
    chosen = _names(names)
    with _lock:
        if names is None:
            _auto_off = True
        for name in chosen:
            if name not in REGISTRY:
                raise ValueError(
                    f"Unknown provider {name!r}; known providers are: {', '.join(sorted(REGISTRY))}"
                )
            if name in _instances:
                _instances[name].uninstall()
            _hooks.cancel(SDK_MODULES[name])


def install_available() -> None:
    """Install every provider whose SDK is present, now or when it gets imported.

    Called when a session starts; does nothing after :func:`uninstrument` (all providers).
    Patches already in place are left alone. Never raises: a provider that fails to install is
    reported as an internal error, one whose SDK is missing or too old is skipped.
    """
    if _auto_off:
        return
    with _lock:
        for name, module in SDK_MODULES.items():
            if name in _instances and _instances[name].installed:
                if not _instances[name].intact:  # a test put its fake over a wrapper, or back
                    _reinstall(name)
                continue
            if name in _waiting:
                continue
            if module in _absent or not _sdk_present(module):
                _absent.add(module)
                continue
            _waiting.add(name)
            _hooks.when_imported(module, _AutoInstall(name))


def _reinstall(name: str) -> None:
    """Wrap again what replaced some of a provider's wrappers; never raises."""
    try:
        _instances[name].install()
    except Exception as exc:  # noqa: BLE001 - telemetry must not break the program
        report_internal_error(f"reinstalling the {name} provider", exc)


class _AutoInstall:
    """Installs one provider when its SDK has been imported; quiet if it is unsupported."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, module: ModuleType) -> None:  # noqa: ARG002 - the hook's signature
        _waiting.discard(self.name)
        if _auto_off:
            return
        try:
            provider(self.name).install()
        except ProviderUnavailable:
            return
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the import
            report_internal_error(f"instrumenting {self.name}", exc)
            return
        _read_callsite_filter()


def _read_callsite_filter() -> None:
    """Read the providers' SDK modules now, next to an SDK import, rather than in the first call.

    That imports the other provider modules (never their SDKs): milliseconds, once, where the
    SDK import that just happened took far longer.
    """
    try:
        library_modules()
    except Exception as exc:  # noqa: BLE001 - telemetry must not break the import
        report_internal_error("reading the providers' SDK modules", exc)


def _sdk_present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def installed() -> list[str]:
    """Names of the providers whose patches are in place."""
    return [name for name, integration in _instances.items() if integration.installed]


__all__ = [
    "REGISTRY",
    "LLMCall",
    "Patch",
    "Provider",
    "ProviderUnavailable",
    "install_available",
    "installed",
    "instrument",
    "provider",
    "suppress_instrumentation",
    "uninstrument",
]
