r"""Secret redaction: which keys and which values never reach an export.

By default aiobs hides

* the value under any key that names a secret (``api_key``, ``password``, ``secret``, ``token``,
  ``authorization``, ``cookie``, ``credentials`` and their variants such as ``X-Api-Key``,
  ``access_token`` or ``clientSecret``) — but not ``max_tokens`` or ``token_count``, which are
  ordinary LLM parameters;
* any part of a string that looks like a credential: OpenAI and Anthropic keys (``sk-…``),
  ``Bearer …`` tokens, Google API keys (``AIza…``), aiobs keys (``aiobs_sk_…``), GitHub, Slack
  and AWS access keys, and JSON Web Tokens.

Extend or replace the rules with :class:`Redaction` and ``observer.configure(redaction=...)``::

    from aiobs import Redaction, observer

    ssn = r"\d{3}-\d{2}-\d{4}"
    observer.configure(redaction=Redaction(extra_keys=["ssn"], extra_patterns=[ssn]))
    observer.configure(redaction=Redaction(enabled=False))      # record everything as is

``@observe(redact=["customer_email"])`` hides more argument names for one function.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterable
from re import Pattern

REDACTED = "[REDACTED]"
"""What a redacted value or credential is replaced with."""

_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passwords",
        "passphrase",
        "secret",
        "secrets",
        "authorization",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "apikey",
        "apikeys",
        "privatekey",
        "accesskey",
        "secretkey",
    }
)
"""A key that contains one of these words is secret wherever the word stands."""

_SECRET_LAST_WORDS = frozenset({"token", "auth", "pwd"})
"""A key that ends with one of these words is secret (``access_token``), not one that merely
contains it (``token_count``); the plural ``tokens`` (``max_tokens``) is not secret."""

_SECRET_PAIRS = frozenset(
    (first, last) for first in ("api", "private", "access", "secret") for last in ("key", "keys")
)
"""Two adjacent words that together name a secret (``openai_api_key``, ``X-Api-Key``)."""

BUILTIN_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("sk-",), r"\bsk-[A-Za-z0-9_\-]{16,}"),  # OpenAI, Anthropic
    (("_sk_",), r"\baiobs_sk_[A-Za-z0-9_\-]{8,}"),  # aiobs
    (("earer", "EARER"), r"\b(?:[Bb]earer|BEARER)\s+[A-Za-z0-9\-._~+/]{8,}=*"),
    (("AIza",), r"\bAIza[0-9A-Za-z_\-]{30,}"),  # Google
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\bgh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub
    (("xox",), r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),  # Slack
    (("AKIA",), r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    (("eyJ",), r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
)
"""``(markers, pattern)``: text that contains a marker is searched for the pattern, and every
match is replaced. Plain substring tests are many times faster than a regular expression over
ordinary text, so a string is searched only when one of the markers occurs in it."""

BUILTIN_PATTERNS: tuple[str, ...] = tuple(pattern for _, pattern in BUILTIN_RULES)
"""Regular expressions for credential-looking text."""

_BUILTIN_PATTERN = re.compile("|".join(f"(?:{pattern})" for pattern in BUILTIN_PATTERNS))

_MIN_SECRET_LENGTH = 12
"""No built-in pattern matches fewer characters, so shorter strings are never scanned."""

_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")  # "XApiKey" -> "X_ApiKey"
_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")  # "apiKey" -> "api_Key"
_WORD = re.compile(r"[a-z0-9]+")
_KEY_CACHE_LIMIT = 4096


def key_words(key: str) -> list[str]:
    """Split a key into lowercase words: ``"X-Api-Key"`` and ``"XApiKey"`` give x, api, key."""
    spaced = _CAMEL_BOUNDARY.sub(r"\1_\2", _ACRONYM_BOUNDARY.sub(r"\1_\2", key))
    return _WORD.findall(spaced.lower())


def _compile(pattern: str | Pattern[str]) -> Pattern[str]:
    if isinstance(pattern, Pattern):
        return pattern
    if not isinstance(pattern, str):
        raise ValueError(f"Redaction pattern {pattern!r} must be a string or a compiled pattern")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(
            f"Redaction pattern {pattern!r} does not compile: {exc}; check extra_patterns"
        ) from exc


def _normalize(name: str) -> str:
    return "".join(key_words(name))


class Redaction:
    """Rules that decide what is replaced by ``[REDACTED]`` before anything is stored.

    Args:
        enabled: ``False`` turns redaction off entirely.
        builtin: ``False`` drops the built-in key and value rules, keeping only the extra ones.
        extra_keys: more key or argument names to hide, compared ignoring case, ``_`` and ``-``
            (``"customer_email"`` also hides ``customerEmail``).
        extra_patterns: more regular expressions (strings or compiled) whose matches are hidden.

    Raises:
        ValueError: a pattern does not compile, or a key is not a string.
    """

    __slots__ = (
        "_builtin",
        "_builtin_pattern",
        "_extra_keys",
        "_extra_patterns",
        "_markers",
        "_patterns",
        "enabled",
        "key_cache",
        "markers",
        "scan_from",
    )

    def __init__(
        self,
        *,
        enabled: bool = True,
        builtin: bool = True,
        extra_keys: Iterable[str] = (),
        extra_patterns: Iterable[str | Pattern[str]] = (),
    ) -> None:
        self.enabled = enabled
        self._builtin = builtin
        keys = []
        for key in extra_keys:
            if not isinstance(key, str):
                raise ValueError(f"Redaction key {key!r} must be a string")
            keys.append(_normalize(key))
        self._extra_keys = frozenset(keys)
        self._extra_patterns = tuple(extra_patterns)
        # Each extra pattern is compiled on its own, so that its flags hold and an error points
        # into it; the built-in ones are searched as one alternation.
        builtins = (_BUILTIN_PATTERN,) if builtin else ()
        self._patterns = builtins + tuple(_compile(pattern) for pattern in self._extra_patterns)
        self.key_cache: dict[str, bool] = {}
        """Decisions of :meth:`is_secret_key` so far; read directly where a call costs too much."""
        # Markers let most text skip the regular expression; extra patterns have no marker, so
        # with any of them every string is searched.
        self._markers = (
            tuple(marker for markers, _ in BUILTIN_RULES for marker in markers)
            if builtin and not self._extra_patterns
            else None
        )
        active = enabled and bool(self._patterns)
        self.scan_from: int = (
            (_MIN_SECRET_LENGTH if self._markers is not None else 1) if active else sys.maxsize
        )
        """Strings shorter than this are never changed by :meth:`redact_text`."""
        self.markers: tuple[bytes, ...] | None = (
            (
                tuple(marker.encode() for marker in self._markers)
                if self._markers is not None
                else None
            )
            if active
            else ()
        )
        """ASCII markers, one of which every text that :meth:`redact_text` would change
        contains; ``None`` when extra patterns make any text a candidate."""

    def __repr__(self) -> str:
        return (
            f"Redaction(enabled={self.enabled}, builtin={self._builtin}, "
            f"extra_keys={sorted(self._extra_keys)}, extra_patterns={list(self._extra_patterns)})"
        )

    def with_keys(self, names: Iterable[str]) -> Redaction:
        """A copy of these rules that also hides ``names``."""
        return Redaction(
            enabled=self.enabled,
            builtin=self._builtin,
            extra_keys=[*self._extra_keys, *names],
            extra_patterns=self._extra_patterns,
        )

    def is_secret_key(self, key: str) -> bool:
        """Whether the value stored under ``key`` must be hidden. Cached per key."""
        cached = self.key_cache.get(key)
        if cached is not None:
            return cached
        secret = self.enabled and self._decide(key)
        # No lock: dict operations are atomic, and a decision lost to a race is made again.
        if len(self.key_cache) >= _KEY_CACHE_LIMIT:
            self.key_cache.clear()
        self.key_cache[key] = secret
        return secret

    def _decide(self, key: str) -> bool:
        words = key_words(key)
        if not words:
            return False
        if self._extra_keys and "".join(words) in self._extra_keys:
            return True
        if not self._builtin:
            return False
        if words[-1] in _SECRET_LAST_WORDS:
            return True
        if any(word in _SECRET_WORDS for word in words):
            return True
        return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))

    def may_hold_secret(self, text: str) -> bool:
        """Cheap test: ``False`` means :meth:`redact_text` would return ``text`` unchanged."""
        if len(text) < self.scan_from:
            return False
        markers = self._markers
        if markers is not None:
            for marker in markers:
                if marker in text:
                    break
            else:
                return False
        return any(pattern.search(text) is not None for pattern in self._patterns)

    def redact_text(self, text: str) -> str:
        """``text`` with every credential-looking part replaced by ``[REDACTED]``."""
        if not self.may_hold_secret(text):
            return text
        for pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return text


DEFAULT_REDACTION = Redaction()
"""The rules in force unless ``observer.configure(redaction=...)`` says otherwise."""
