"""What a provider integration is: the SDK it needs and the methods it wraps.

A :class:`Provider` names its SDK (import name, distribution, oldest supported version) and lists
:class:`Patch` es: a class attribute to replace with a wrapper made from the original. Installing
imports the SDK's modules and applies the patches; uninstalling puts every original back. Patches
go on the SDK's resource *classes*, so clients created before or after installing are all covered.

Wrappers are made by :mod:`aiobs.providers.wrappers` from a description of the call: they call
the original directly when nothing records, and leave the user's arguments, return value and
exceptions exactly as the SDK gives them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

WRAPPED_MARK = "__aiobs_original__"
"""Attribute of a wrapper that holds the function it wraps."""


class ProviderUnavailable(ImportError):  # noqa: N818 - reads as a state, like ImportError
    """A provider's SDK is missing or older than supported; the message says how to install it."""


@dataclass
class Patch:
    """Replace ``owner.attribute`` (``owner`` given as ``"module:Class"``) by ``wrap(original)``.

    ``optional`` patches are skipped quietly when the SDK version lacks the class or method
    (an API that appeared in a later release).
    """

    owner: str
    attribute: str
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
    optional: bool = False
    _applied: tuple[Any, Any, Any] | None = field(default=None, repr=False)
    """``(owner, original, wrapper)`` while installed."""

    def resolve(self) -> Any | None:
        """The owner class, or ``None`` when it does not exist in the installed SDK."""
        module_name, _, class_path = self.owner.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in class_path.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError):
            if self.optional:
                return None
            raise
        return target

    def apply(self) -> bool:
        """Install the wrapper; ``False`` when an optional target is missing. Idempotent.

        When the installed wrapper is no longer in place (a test's ``monkeypatch`` put a fake
        over it, or put back what it replaced), what is there now is taken over: an aiobs
        wrapper is adopted as it is, anything else (the SDK's method, a fake) is wrapped.
        """
        if self._applied is not None and self.in_place:
            return True
        owner = self.resolve()
        if owner is None:
            return False
        current = owner.__dict__.get(self.attribute)
        if current is None:
            if self.optional:
                return False
            raise AttributeError(f"{self.owner} has no attribute {self.attribute!r}")
        original = getattr(current, WRAPPED_MARK, None)
        if original is not None:  # an aiobs wrapper already: adopted, never wrapped twice
            self._applied = (owner, original, current)
            return True
        wrapper = self.wrap(current)
        setattr(wrapper, WRAPPED_MARK, current)
        setattr(owner, self.attribute, wrapper)
        self._applied = (owner, current, wrapper)
        return True

    def restore(self) -> None:
        """Put the original back (only if the wrapper is still the one installed)."""
        if self._applied is None:
            return
        owner, original, _ = self._applied
        current = owner.__dict__.get(self.attribute)
        if getattr(current, WRAPPED_MARK, None) is original:
            setattr(owner, self.attribute, original)
        self._applied = None

    @property
    def applied(self) -> bool:
        """Whether this patch is installed."""
        return self._applied is not None

    def installed_wrapper(self) -> tuple[Mapping[str, Any], str, Any]:
        """``(owner's __dict__, attribute, wrapper)`` of the installed patch."""
        if self._applied is None:
            raise RuntimeError(f"{self.owner}.{self.attribute} is not patched")
        owner, _, wrapper = self._applied
        return (owner.__dict__, self.attribute, wrapper)

    @property
    def in_place(self) -> bool:
        """Whether the wrapper this patch installed is still the owner's attribute."""
        if self._applied is None:
            return False
        owner, _, wrapper = self._applied
        return owner.__dict__.get(self.attribute) is wrapper


class Provider:
    """An SDK integration: subclasses set the class attributes and implement :meth:`patches`."""

    name: ClassVar[str]
    """Short name, as in events' ``provider`` field: ``openai``, ``gemini``, ``anthropic``."""

    module: ClassVar[str]
    """Import name of the SDK (``openai``, ``google.genai``, ``anthropic``)."""

    distribution: ClassVar[str]
    """PyPI name of the SDK, for version checks and install hints."""

    min_version: ClassVar[str]
    """Oldest supported SDK release."""

    extra: ClassVar[str]
    """The aiobs extra that installs the SDK."""

    sdk_modules: ClassVar[tuple[str, ...]]
    """Modules whose frames are the SDK's, not the program's: the SDK and the HTTP stack it
    sends requests with. A call's ``callsite`` is the innermost frame outside these (and aiobs).
    Defaults to ``(module,)``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "sdk_modules" not in cls.__dict__ and "module" in cls.__dict__:
            cls.sdk_modules = (cls.module,)

    def __init__(self) -> None:
        self._patches: list[Patch] | None = None
        self._wrappers: list[tuple[Mapping[str, Any], str, Any]] = []
        """``(owner's __dict__, attribute, wrapper)`` of each installed patch (for ``intact``)."""

    def patches(self) -> list[Patch]:
        """The methods this provider wraps (called once, after the SDK imports)."""
        raise NotImplementedError

    def install_hint(self) -> str:
        """How to get a supported SDK."""
        return (
            f"pip install 'aiobs[{self.extra}]' "
            f"(or pip install '{self.distribution}>={self.min_version}')"
        )

    def check_available(self) -> None:
        """Raise :class:`ProviderUnavailable` unless a supported SDK is installed."""
        try:
            installed = importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            raise ProviderUnavailable(
                f"aiobs cannot instrument {self.name}: {self.distribution} is not installed. "
                f"Install it with: {self.install_hint()}"
            ) from None
        if version_tuple(installed) < version_tuple(self.min_version):
            raise ProviderUnavailable(
                f"aiobs cannot instrument {self.name}: {self.distribution} {installed} is older "
                f"than the oldest supported release, {self.min_version}. Upgrade with: "
                f"{self.install_hint()}"
            )

    def install(self) -> None:
        """Check the SDK and apply every patch (idempotent).

        Raises:
            ProviderUnavailable: the SDK is missing or too old.
        """
        self.check_available()
        if self._patches is None:
            self._patches = self.patches()
        applied: list[Patch] = []
        try:
            for patch in self._patches:
                if patch.apply():
                    applied.append(patch)  # noqa: PERF401 - kept in order for the rollback
        except BaseException:
            for patch in reversed(applied):
                patch.restore()
            self._wrappers = []
            raise
        self._wrappers = [patch.installed_wrapper() for patch in applied]

    def uninstall(self) -> None:
        """Restore every original method."""
        for patch in reversed(self._patches or []):
            patch.restore()
        self._wrappers = []

    @property
    def installed(self) -> bool:
        """Whether any of this provider's patches is in place."""
        return any(patch.applied for patch in self._patches or [])

    @property
    def intact(self) -> bool:
        """Whether every installed patch's wrapper is still in place (nobody replaced one).

        Checked at every session start, so it reads a list made when the patches were applied.
        """
        return all(where.get(attribute) is wrapper for where, attribute, wrapper in self._wrappers)

    def wrapped_apis(self) -> list[str]:
        """``Class.method`` of every installed patch (for diagnostics and tests)."""
        return [
            f"{patch.owner.partition(':')[2]}.{patch.attribute}"
            for patch in self._patches or []
            if patch.applied
        ]


class BaseProvider(ABC):
    """A provider written for aiobs 0.2: it instruments something and records through a collector.

    Subclass it, implement :meth:`install`, and install it yourself; the instrumented code
    records events as aiobs 0.2 models or dicts with ``collector._record_event(...)``::

        class MyLLMProvider(BaseProvider):
            name = "my-llm"

            def install(self, collector):
                original = mylib.complete

                def complete(prompt):
                    started = time.time()
                    answer = original(prompt)
                    collector._record_event({"provider": self.name, "api": "complete", ...})
                    return answer

                mylib.complete = complete
                return lambda: setattr(mylib, "complete", original)

        unpatch = MyLLMProvider().install(observer)

    Events recorded this way go into the current session like any other, bounded and redacted,
    with the current span as their parent when they name none.
    """

    name: str = "provider"

    @classmethod
    def is_available(cls) -> bool:
        """Whether what this provider instruments is installed (override to check)."""
        return True

    @abstractmethod
    def install(self, collector: Any) -> Callable[[], None] | None:
        """Instrument, recording through ``collector``; return a function that undoes it."""


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.40.0rc1"`` -> ``(1, 40, 0)``: the numeric release parts, for comparisons."""
    parts = []
    for piece in version.split(".")[:3]:
        match = re.match(r"\d+", piece)
        if match is None:
            break
        parts.append(int(match.group()))
    return tuple(parts)
