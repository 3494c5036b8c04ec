"""Token counts estimated with a local tokenizer, for streams that ended without usage.

A provider reports usage for most calls; a stream that is closed early, or an OpenAI chat stream
that did not ask for ``stream_options={"include_usage": True}``, reports none. With
``observer.configure(estimate_usage=True)`` (or ``AIOBS_ESTIMATE_USAGE=1``), such calls get a
:class:`~aiobs.usage.Usage` counted here with `tiktoken`_ and flagged ``estimated=True`` (the cost
computed from it is flagged as well). Without the setting, or when no tokenizer is available, a
call without reported usage has none: counts are never guessed otherwise.

tiktoken downloads its encoding files at first use. aiobs never lets it reach the network: it
loads an encoding only from a directory that already holds its file, either the one named by
``TIKTOKEN_CACHE_DIR`` or one it prepares itself (``$XDG_CACHE_HOME/aiobs/tiktoken``, else
``~/.cache/aiobs/tiktoken``, else a temporary directory) from the ``o200k_base`` and
``cl100k_base`` files shipped in the `bpe-openai`_ package, which are byte for byte those of
tiktoken (checked against tiktoken's SHA-256). Models whose encoding is not one of these are
counted with ``o200k_base``. Install both with ``pip install tiktoken bpe-openai``.

The prompt count follows OpenAI's published recipe for chat models: each message's text plus
three tokens per message (four with a ``name``) plus three that prime the reply. Tool definitions
and images are not counted, so the estimate is a lower bound for such prompts.

.. _tiktoken: https://pypi.org/project/tiktoken/
.. _bpe-openai: https://pypi.org/project/bpe-openai/
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..usage import Usage

DEFAULT_ENCODING = "o200k_base"
"""The encoding used for models tiktoken does not know, or whose encoding is not available."""

ENCODING_FILES: dict[str, tuple[str, str]] = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
"""Encoding -> (the URL tiktoken downloads it from, the SHA-256 tiktoken expects of it)."""

ENCODING_NEEDS = {"o200k_harmony": "o200k_base"}
"""Encodings tiktoken builds from another one's file."""

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

_lock = threading.RLock()
_encodings: dict[str, Any] = {}  # encoding name -> tiktoken Encoding, or None when unavailable
_verified: set[Path] = set()  # cache files whose content was checked this process


# -- where tiktoken finds its files --------------------------------------------------------------


def cache_key(encoding: str) -> str:
    """The file name tiktoken gives an encoding in its cache: the SHA-1 of its download URL."""
    url = ENCODING_FILES[encoding][0]
    return hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's naming, not security


def bundled_file(encoding: str) -> Path | None:
    """The gzipped encoding file shipped in bpe-openai, without importing that package."""
    try:
        spec = importlib.util.find_spec("bpe_openai")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / f"{encoding}.tiktoken.gz"
    return path if path.is_file() else None


def _holds(directory: Path, encoding: str) -> bool:
    """Whether ``directory`` holds ``encoding``'s file with the content tiktoken expects."""
    path = directory / cache_key(encoding)
    if path in _verified:
        return path.is_file()
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if hashlib.sha256(data).hexdigest() != ENCODING_FILES[encoding][1]:
        return False
    _verified.add(path)
    return True


def _candidate_roots() -> Iterator[Path]:
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        yield Path(xdg) / "aiobs" / "tiktoken"
    with contextlib.suppress(RuntimeError):  # no home directory
        yield Path.home() / ".cache" / "aiobs" / "tiktoken"
    user = getattr(os, "getuid", lambda: "user")()
    yield Path(tempfile.gettempdir()) / f"aiobs-tiktoken-{user}"


def _install(directory: Path, encoding: str) -> bool:
    """Write bpe-openai's copy of ``encoding`` into ``directory`` under tiktoken's name."""
    source = bundled_file(encoding)
    if source is None:
        return False
    try:
        data = gzip.decompress(source.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile):
        return False
    if hashlib.sha256(data).hexdigest() != ENCODING_FILES[encoding][1]:
        return False
    target = directory / cache_key(encoding)
    partial = directory / f"{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        os.replace(partial, target)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        return False
    _verified.add(target)
    return True


def tiktoken_cache_dir(encoding: str = DEFAULT_ENCODING, root: Path | None = None) -> Path | None:
    """A directory from which tiktoken can load ``encoding`` without any network access.

    ``TIKTOKEN_CACHE_DIR`` when it already holds the file; else ``root`` (by default the user
    cache directory, or a temporary one) after copying bpe-openai's file there. ``None`` when
    the encoding is not one bpe-openai ships or its file cannot be found or written.
    """
    if encoding not in ENCODING_FILES:
        return None
    with _lock:
        configured = os.environ.get("TIKTOKEN_CACHE_DIR")
        if configured and _holds(Path(configured), encoding):
            return Path(configured)
        for directory in [root] if root is not None else _candidate_roots():
            if _holds(directory, encoding) or _install(directory, encoding):
                return directory
    return None


# -- encodings -----------------------------------------------------------------------------------


def _tiktoken() -> Any | None:
    try:
        import tiktoken
    except ImportError:
        return None
    return tiktoken


def _encoding_name(tiktoken: Any, model: str | None) -> str:
    if not model:
        return DEFAULT_ENCODING
    try:
        return str(tiktoken.encoding_name_for_model(model.removeprefix("models/")))
    except (KeyError, AttributeError, ValueError):
        return DEFAULT_ENCODING


def _load(tiktoken: Any, name: str) -> Any | None:
    """The ``name`` encoding of tiktoken, loaded from a local file only (else ``None``)."""
    loaded = getattr(getattr(tiktoken, "registry", None), "ENCODINGS", {})
    if name in loaded:
        return loaded[name]
    directory = tiktoken_cache_dir(ENCODING_NEEDS.get(name, name))
    if directory is None:
        return None
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
    try:
        return tiktoken.get_encoding(name)
    except Exception:  # noqa: BLE001 - any failure means: no estimate
        return None
    finally:
        if previous is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


def encoding_for(model: str | None) -> Any | None:
    """The tiktoken encoding to count ``model``'s tokens with, or ``None`` when there is none.

    The model's own encoding when it can be loaded offline, else ``o200k_base``.
    """
    tiktoken = _tiktoken()
    if tiktoken is None:
        return None
    name = _encoding_name(tiktoken, model)
    with _lock:
        for candidate in dict.fromkeys((name, DEFAULT_ENCODING)):
            if candidate not in _encodings:
                _encodings[candidate] = _load(tiktoken, candidate)
            if _encodings[candidate] is not None:
                return _encodings[candidate]
    return None


def forget_encodings() -> None:
    """Drop the encodings loaded so far (tests use it to start from nothing)."""
    with _lock:
        _encodings.clear()
        _verified.clear()


# -- counting -------------------------------------------------------------------------------------


def count_text(encoding: Any, text: str) -> int:
    """Tokens of ``text``, special-token markers counted as plain text."""
    return len(encoding.encode(text, disallowed_special=())) if text else 0


def _texts(value: Any) -> Iterator[str]:
    """The text pieces of a message content, a content part, or a list of them."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in ("text", "content", "arguments", "output", "input"):
            yield from _texts(value.get(key))
        function = value.get("function")
        if isinstance(function, Mapping):
            yield from _texts(function.get("name"))
            yield from _texts(function.get("arguments"))
        for call in value.get("tool_calls") or ():
            yield from _texts(call)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def prompt_tokens(encoding: Any, prompt: Any, instructions: str | None = None) -> int:
    """Tokens of a prompt: a string, or a list of chat messages / Responses input items."""
    total = count_text(encoding, instructions or "")
    if isinstance(prompt, str):
        return total + count_text(encoding, prompt)
    if not isinstance(prompt, (list, tuple)):
        return total
    for message in prompt:
        total += TOKENS_PER_MESSAGE + sum(count_text(encoding, text) for text in _texts(message))
        if isinstance(message, Mapping) and isinstance(message.get("name"), str):
            total += TOKENS_PER_NAME + count_text(encoding, message["name"])
    return total + REPLY_PRIMING_TOKENS


def estimate_usage(
    model: str | None, prompt: Any, completion: str, instructions: str | None = None
) -> Usage | None:
    """Usage counted locally for a call whose provider reported none, or ``None`` if impossible.

    ``prompt`` is what was sent (a string or a list of messages / input items), ``completion``
    the text received (tool call names and arguments included).
    """
    encoding = encoding_for(model)
    if encoding is None:
        return None
    return Usage(
        input_tokens=prompt_tokens(encoding, prompt, instructions),
        output_tokens=count_text(encoding, completion),
        estimated=True,
    )
