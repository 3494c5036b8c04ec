"""Installing providers: automatically when an SDK is imported, explicitly, and back out.

These tests use a small SDK written to a temporary directory (a real package with its own
distribution metadata), so that the import hook, version checks and patching run for real.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiobs import observer, providers
from aiobs.providers import Patch, Provider, ProviderUnavailable, _hooks
from aiobs.providers.call import LLMCall, library_modules
from tests.helpers import flush_document

SDK = "aiobs_test_fake_sdk"

SDK_SOURCE = """
class Completions:
    def create(self, **kwargs):
        return {"echo": kwargs}
"""


def _wrap_create(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(self: Any, **kwargs: Any) -> Any:
        call = LLMCall.start("fake", "completions.create", kwargs, model=kwargs.get("model"))
        if call is None:
            return original(self, **kwargs)
        with call.inside():
            result = original(self, **kwargs)
        call.finish(response={"text": str(result)})
        return result

    return create


class FakeProvider(Provider):
    """Wraps the temporary SDK's ``Completions.create``."""

    name = "fake"
    module = SDK
    distribution = "aiobs-test-fake-sdk"
    min_version = "1.5"
    extra = "fake"

    def patches(self) -> list[Patch]:
        return [Patch(f"{SDK}:Completions", "create", _wrap_create)]


def _write_sdk(root: Path, version: str) -> None:
    package = root / SDK
    package.mkdir()
    (package / "__init__.py").write_text(SDK_SOURCE)
    info = root / f"aiobs_test_fake_sdk-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: aiobs-test-fake-sdk\nVersion: {version}\n"
    )


@pytest.fixture
def fake_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temporary SDK on sys.path (version 2.0.0), registered as the only provider."""
    _write_sdk(tmp_path, "2.0.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(providers, "REGISTRY", {"fake": f"{__name__}:FakeProvider"})
    monkeypatch.setattr(providers, "SDK_MODULES", {"fake": SDK})
    monkeypatch.setattr(providers, "_instances", {})
    monkeypatch.setattr(providers, "_waiting", set())
    monkeypatch.setattr(providers, "_absent", set())
    monkeypatch.setattr(providers, "_auto_off", False)
    yield tmp_path
    providers.uninstrument()
    sys.modules.pop(SDK, None)


def _sdk() -> Any:
    return importlib.import_module(SDK)


def test_starting_a_session_does_not_import_the_sdk(fake_sdk: Path) -> None:
    observer.observe("s")
    assert SDK not in sys.modules
    assert providers.installed() == []


def test_an_sdk_imported_after_the_session_starts_is_instrumented(fake_sdk: Path) -> None:
    observer.observe("s")
    sdk = _sdk()
    assert providers.installed() == ["fake"]
    assert sdk.Completions().create(model="m1") == {"echo": {"model": "m1"}}
    [event] = flush_document()["events"]
    assert event["provider"] == "fake"
    assert event["request"] == {"model": "m1"}
    assert SDK not in _hooks._callbacks  # the hook forgets the SDK once done


def test_an_sdk_imported_before_the_session_is_instrumented_at_once(fake_sdk: Path) -> None:
    sdk = _sdk()
    original = sdk.Completions.__dict__["create"]
    observer.observe("s")
    assert sdk.Completions.__dict__["create"] is not original
    sdk.Completions().create(model="m")
    assert len(flush_document()["events"]) == 1


def test_uninstrument_restores_the_original_methods_and_stays_off(fake_sdk: Path) -> None:
    sdk = _sdk()
    original = sdk.Completions.__dict__["create"]
    observer.instrument("fake")
    observer.instrument("fake")  # twice: still wrapped once
    wrapper = sdk.Completions.__dict__["create"]
    assert wrapper is not original
    assert wrapper.__aiobs_original__ is original
    observer.uninstrument()
    assert sdk.Completions.__dict__["create"] is original
    observer.observe("later")  # a new session does not put the patches back
    assert sdk.Completions.__dict__["create"] is original
    sdk.Completions().create(model="m")
    assert flush_document()["events"] == []
    assert observer.instrument() == ["fake"]
    assert sdk.Completions.__dict__["create"] is not original


def test_automatic_instrumentation_can_be_turned_off(fake_sdk: Path) -> None:
    sdk = _sdk()
    original = sdk.Completions.__dict__["create"]
    observer.configure(auto_instrument=False)
    observer.observe("s")
    assert sdk.Completions.__dict__["create"] is original


def test_calls_without_a_session_are_passed_straight_through(fake_sdk: Path) -> None:
    sdk = _sdk()
    observer.instrument("fake")
    assert sdk.Completions().create(x=1) == {"echo": {"x": 1}}
    observer.observe("s")
    assert flush_document()["events"] == []


def test_asking_for_a_missing_sdk_says_how_to_install_it(
    fake_sdk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeProvider, "distribution", "aiobs-no-such-distribution")
    with pytest.raises(ProviderUnavailable, match=r"not installed.*pip install 'aiobs\[fake\]'"):
        observer.instrument("fake")
    observer.observe("s")  # the automatic path skips it quietly
    _sdk()
    assert providers.installed() == []


def test_asking_for_a_too_old_sdk_names_both_versions(
    fake_sdk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeProvider, "min_version", "3.1")
    with pytest.raises(ProviderUnavailable, match=r"2\.0\.0 is older than .* 3\.1"):
        observer.instrument("fake")


def test_unknown_provider_names_are_rejected_with_the_known_ones(fake_sdk: Path) -> None:
    with pytest.raises(ValueError, match="Unknown provider 'opneai'; known providers are: fake"):
        observer.instrument("opneai")


def test_the_real_registry_names_the_three_providers() -> None:
    assert sorted(providers.REGISTRY) == ["anthropic", "gemini", "openai"]
    for name, target in providers.REGISTRY.items():
        module_name, _, class_name = target.partition(":")
        integration = getattr(importlib.import_module(module_name), class_name)
        assert integration.name == name
        assert providers.SDK_MODULES[name] == integration.module


def test_a_provider_declares_its_sdk_module_unless_it_names_more() -> None:
    assert FakeProvider.sdk_modules == (SDK,)
    openai_provider = providers.provider("openai")
    assert openai_provider.module in openai_provider.sdk_modules
    assert "httpx2" in openai_provider.sdk_modules


def test_the_callsite_skips_every_registered_provider_sdk_modules() -> None:
    names, prefixes = library_modules()
    for target in providers.REGISTRY.values():
        module_name, _, class_name = target.partition(":")
        integration = getattr(importlib.import_module(module_name), class_name)
        for module in integration.sdk_modules:
            assert module in names
            assert f"{module}." in prefixes
    assert "aiobs" in names


def test_provider_modules_and_the_callsite_filter_import_no_sdk() -> None:
    code = (
        "import sys\n"
        "from aiobs.providers.call import library_modules\n"
        "library_modules()\n"
        "import aiobs.providers.openai, aiobs.providers.gemini, aiobs.providers.anthropic\n"
        "print(','.join(m for m in ('openai', 'anthropic', 'google.genai') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""
