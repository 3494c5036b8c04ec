"""Local token estimates: tiktoken loaded offline from bpe-openai's files, or no estimate."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiobs.providers import estimate
from aiobs.usage import Usage

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"

needs_files = pytest.mark.skipif(
    estimate.bundled_file("o200k_base") is None, reason="bpe-openai is not installed"
)


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No tokenizer loaded yet, caches under tmp_path, and any download attempt fails the test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    try:
        import tiktoken.load
        import tiktoken.registry
    except ImportError:
        pass
    else:

        def no_download(url: str) -> bytes:
            raise AssertionError(f"tiktoken tried to download {url}")

        monkeypatch.setattr(tiktoken.load, "read_file", no_download)
        monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    estimate.forget_encodings()
    yield
    estimate.forget_encodings()


def tiktoken_module() -> Any:
    """tiktoken, or skip the test."""
    return pytest.importorskip("tiktoken")


class TestCacheDirectory:
    """bpe-openai's files are copied where tiktoken looks for them, under tiktoken's names."""

    def test_cache_key_is_the_sha1_of_the_url(self) -> None:
        assert estimate.cache_key("o200k_base") == hashlib.sha1(O200K_URL.encode()).hexdigest()

    @needs_files
    def test_prepared_under_the_user_cache(self, tmp_path: Path) -> None:
        directory = estimate.tiktoken_cache_dir("o200k_base")
        assert directory == tmp_path / "xdg" / "aiobs" / "tiktoken"
        data = (directory / estimate.cache_key("o200k_base")).read_bytes()
        assert hashlib.sha256(data).hexdigest() == O200K_SHA256
        assert [path.name for path in directory.iterdir()] == [estimate.cache_key("o200k_base")]

    @needs_files
    def test_given_root(self, tmp_path: Path) -> None:
        root = tmp_path / "chosen"
        assert estimate.tiktoken_cache_dir("cl100k_base", root=root) == root
        assert (root / estimate.cache_key("cl100k_base")).is_file()

    @needs_files
    def test_a_usable_tiktoken_cache_dir_is_used_as_is(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        prepared = estimate.tiktoken_cache_dir("o200k_base", root=tmp_path / "theirs")
        assert prepared is not None
        estimate.forget_encodings()
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(prepared))
        assert estimate.tiktoken_cache_dir("o200k_base") == prepared
        assert not (tmp_path / "xdg").exists()

    @needs_files
    def test_an_unusable_tiktoken_cache_dir_is_not_trusted(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        theirs = tmp_path / "broken"
        theirs.mkdir()
        (theirs / estimate.cache_key("o200k_base")).write_bytes(b"not the encoding")
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(theirs))
        assert estimate.tiktoken_cache_dir("o200k_base") == tmp_path / "xdg" / "aiobs" / "tiktoken"

    @needs_files
    def test_an_unwritable_cache_falls_back_to_the_next_place(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        blocked = tmp_path / "xdg"
        blocked.write_text("a file where a directory should be")
        directory = estimate.tiktoken_cache_dir("o200k_base")
        assert directory == tmp_path / "home" / ".cache" / "aiobs" / "tiktoken"

    def test_unknown_encoding(self) -> None:
        assert estimate.tiktoken_cache_dir("r50k_base") is None

    def test_without_bpe_openai(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "bpe_openai", None)
        assert estimate.bundled_file("o200k_base") is None
        assert estimate.tiktoken_cache_dir("o200k_base") is None


class TestEstimates:
    """Counts follow OpenAI's chat recipe; no tokenizer or no file means no estimate."""

    @needs_files
    def test_chat_messages(self) -> None:
        tiktoken = tiktoken_module()
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is two plus two?", "name": "ann"},
        ]
        usage = estimate.estimate_usage("gpt-4o-mini", messages, "Four.")
        assert usage is not None
        encoding = tiktoken.get_encoding("o200k_base")
        expected_input = (
            3
            + len(encoding.encode("Be brief."))
            + 3
            + len(encoding.encode("What is two plus two?"))
            + 1
            + len(encoding.encode("ann"))
            + 3
        )
        assert usage == Usage(
            input_tokens=expected_input,
            output_tokens=len(encoding.encode("Four.")),
            estimated=True,
        )
        assert usage.as_dict()["estimated"] is True

    @needs_files
    def test_text_parts_and_instructions(self) -> None:
        tiktoken = tiktoken_module()
        prompt = [{"role": "user", "content": [{"type": "input_text", "text": "hello there"}]}]
        usage = estimate.estimate_usage("gpt-4o", prompt, "", instructions="Be kind.")
        assert usage is not None
        encoding = tiktoken.get_encoding("o200k_base")  # loaded offline by the estimate
        assert usage.input_tokens == (
            len(encoding.encode("Be kind.")) + 3 + len(encoding.encode("hello there")) + 3
        )
        assert usage.output_tokens == 0

    @needs_files
    def test_plain_string_prompt(self) -> None:
        tiktoken = tiktoken_module()
        usage = estimate.estimate_usage(None, "just text", "ok")
        assert usage is not None
        assert usage.input_tokens == len(tiktoken.get_encoding("o200k_base").encode("just text"))

    @needs_files
    def test_model_encoding_and_fallback(self) -> None:
        tiktoken_module()
        assert estimate.encoding_for("gpt-4").name == "cl100k_base"
        assert estimate.encoding_for("gpt-4o-mini-2024-07-18").name == "o200k_base"
        assert estimate.encoding_for("some-unknown-model").name == "o200k_base"
        assert estimate.encoding_for("text-davinci-003").name == "o200k_base"  # p50k: not shipped

    @needs_files
    def test_special_token_text_is_counted_as_text(self) -> None:
        tiktoken_module()
        usage = estimate.estimate_usage("gpt-4o", "<|endoftext|>", "")
        assert usage is not None
        assert usage.input_tokens > 1

    def test_without_tiktoken(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "tiktoken", None)
        assert estimate.encoding_for("gpt-4o") is None
        assert estimate.estimate_usage("gpt-4o", "hello", "hi") is None

    def test_without_encoding_files(self, monkeypatch: pytest.MonkeyPatch) -> None:
        tiktoken_module()
        monkeypatch.setattr(estimate, "bundled_file", lambda _encoding: None)
        assert estimate.encoding_for("gpt-4o") is None
        assert estimate.estimate_usage("gpt-4o", "hello", "hi") is None

    @needs_files
    def test_environment_is_left_as_found(self, monkeypatch: pytest.MonkeyPatch) -> None:
        tiktoken_module()
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/nonexistent/aiobs-test")
        assert estimate.encoding_for("gpt-4o") is not None
        assert os.environ["TIKTOKEN_CACHE_DIR"] == "/nonexistent/aiobs-test"
