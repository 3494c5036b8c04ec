"""Which provider integrations exist, and the SDK whose import installs each.

One line of :data:`_PROVIDERS` per provider. Everything else about a provider is read from its
:class:`~aiobs.providers.base.Provider` class, whose module imports nothing from the SDK until
the provider is installed (:func:`sdk_modules` imports those modules, never an SDK). Starting a
session reads only these tables: it imports no provider module, so it stays cheap.
"""

from __future__ import annotations

import importlib

from .base import Provider

_PROVIDERS = (
    # name, the SDK module whose import installs it (its class's ``module``), the class
    ("openai", "openai", "aiobs.providers.openai:OpenAIProvider"),
    ("gemini", "google.genai", "aiobs.providers.gemini:GeminiProvider"),
    ("anthropic", "anthropic", "aiobs.providers.anthropic:AnthropicProvider"),
)

REGISTRY: dict[str, str] = {name: target for name, _, target in _PROVIDERS}
"""Provider name -> ``module:Class`` of its integration (imported only when used)."""

SDK_MODULES: dict[str, str] = {name: sdk for name, sdk, _ in _PROVIDERS}
"""Provider name -> the SDK module whose import triggers its automatic installation."""


def provider_class(target: str) -> type[Provider]:
    """The integration class named by a registry value (``"module:Class"``)."""
    module_name, _, class_name = target.partition(":")
    found: type[Provider] = getattr(importlib.import_module(module_name), class_name)
    return found


def sdk_modules() -> tuple[str, ...]:
    """Every registered provider's :attr:`~aiobs.providers.base.Provider.sdk_modules`, once each."""
    names = (name for target in REGISTRY.values() for name in provider_class(target).sdk_modules)
    return tuple(dict.fromkeys(names))
