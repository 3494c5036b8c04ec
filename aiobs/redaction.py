r"""Secret redaction: which keys and which values never reach an export.

By default aiobs hides

* the value under any key that names a secret (``api_key``, ``password``, ``secret``, ``token``,
  ``authorization``, ``cookie``, ``credentials`` and their variants such as ``X-Api-Key``,
  ``access_token``, ``clientSecret`` or ``db_pass``) — but not ``max_tokens``, ``token_count``
  or ``passage``, which are ordinary names;
* any part of a string that looks like a credential (:data:`BUILTIN_RULES`): OpenAI and
  Anthropic keys (``sk-…``), aiobs keys (``aiobs_sk_…``), ``Bearer …`` tokens, HTTP ``Basic``
  credentials, passwords in URLs, Google API keys and OAuth tokens, GitHub, GitLab, Slack,
  Stripe, AWS, Azure, Hugging Face, Groq, Replicate, Together AI, Perplexity and xAI keys, JSON
  Web Tokens and PEM private keys.

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
from re import Match, Pattern
from typing import NamedTuple

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

_SECRET_LAST_WORDS = frozenset({"token", "auth", "pwd", "pass"})
"""A key that ends with one of these words is secret (``access_token``, ``db_pass``), not one
that merely contains it (``token_count``, ``pass_through``); the plural ``tokens``
(``max_tokens``) and longer words (``passage``, ``bypass``) are not secret."""

_SECRET_PAIRS = frozenset(
    (first, last) for first in ("api", "private", "access", "secret") for last in ("key", "keys")
)
"""Two adjacent words that together name a secret (``openai_api_key``, ``X-Api-Key``)."""

_KEY = r"[A-Za-z0-9_\-]"

# HTTP Basic credentials are base64 of "user:password" (RFC 7617). Four base64 characters hold
# three bytes; these classes accept exactly the characters whose bits give bytes 0x20-0x7F
# (printable ASCII), so that "Basic understanding" or "Basic LinkedIn" do not match:
# 1st char = byte0 >> 2 (8-31: I-Z, a-f); 2nd = (byte0 & 3) << 4 | byte1 >> 4 (byte1 >> 4 is 2-7);
# 3rd = (byte1 & 15) << 2 | byte2 >> 6 (ends in bits 00 for byte2 < 0x40, 01 above); 4th =
# byte2 & 63 (32-63 below 0x40, anything above). ":" is 0x3A: "O" + 2nd char i-n as byte0,
# 2nd char D/T/j/z + 3rd o/p as byte1, 4th char "6" as byte2.
_BASE64_QUAD = (
    r"[I-Za-f][C-HS-Xi-nyz0-3]"
    r"(?:[AEIMQUYcgkosw048][g-z0-9+/]|[BFJNRVZdhlptx159][A-Za-z0-9+/])"
)
_BASE64_COLON_QUAD = (
    r"(?:O[i-n](?:[AEIMQUYcgkosw048][g-z0-9+/]|[BFJNRVZdhlptx159][A-Za-z0-9+/])"
    r"|[I-Za-f][DTjz](?:o[g-z0-9+/]|p[A-Za-z0-9+/])"
    r"|[I-Za-f][C-HS-Xi-nyz0-3][AEIMQUYcgkosw048]6)"
)
_BASE64_END = r"[I-Za-f](?:[AQgw]==|[C-HS-Xi-nyz0-3][AEIMQUYcgkosw048]=)"  # 1 or 2 bytes left
_BASE64_COLON_END = r"(?:Og==|O[i-n][AEIMQUYcgkosw048]=|[I-Za-f][DTjz]o=)"
_AFTER_BASIC = (
    r"\s+"
    rf"(?=(?:{_BASE64_QUAD}){{0,127}}(?:{_BASE64_COLON_QUAD}|{_BASE64_COLON_END}))"
    rf"(?:{_BASE64_QUAD}){{1,128}}(?:{_BASE64_QUAD}|{_BASE64_END})(?![A-Za-z0-9+/=])"
)
_AFTER_BEARER = (  # a token: 16 characters or more, or not shaped like a word (digits, symbols,
    # capitals inside), so that "bearer documents" and "Bearer authentication" are kept
    r"\s+(?=[A-Za-z0-9\-._~+/]{16}|[A-Za-z\-.]*(?:[0-9_~+/=]|(?<!\s)[A-Z]))"
    r"[A-Za-z0-9\-._~+/]{8,}=*"
)
_AWS_LABEL_REST = (  # the rest of a "secret (access) key" label, then 40 characters
    r"[_\-. ]?(?:(?:[Aa]ccess|ACCESS)[_\-. ]?)?(?:[Kk]ey|KEY)[\"']?\s*(?:=>|:=|[:=])\s*[\"']?)"
    r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
)
_PEM_LABEL = r"[ A-Z0-9_\-]{0,100}PRIVATE KEY(?: BLOCK)?-----"

# Every pattern starts with literal text where its marker is common in prose (sk-, ://, Key=,
# bearer, basic, secret): the regular expression engine then skips ahead to that text instead of
# trying the pattern at every position, which is several times faster. That is why spellings
# get a rule each, and why a kept label may start after its first letter ("s" + "ecret...").
BUILTIN_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic (sk-ant-) keys: any sk- token
    # after a word boundary; right after other letters ("key=abcsk-proj-..."), only the typed
    # prefixes or a 40-character mixed-case run, so that "task-..." and "risk-..." stay.
    (
        ("sk-",),
        rf"sk-(?:(?<!\wsk-){_KEY}{{16,}}"
        rf"|(?:proj|svcacct|admin|ant|None)-(?={_KEY}*[0-9])(?={_KEY}*[A-Z]){_KEY}{{16,}}"
        r"|(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Z])(?=[A-Za-z0-9]*[a-z])[A-Za-z0-9]{40,})",
    ),
    (("_sk_",), rf"aiobs_sk_{_KEY}{{8,}}"),  # aiobs (aiobs_sk_<key id>_<secret>)
    (("Bearer",), rf"Bearer(?<!\wBearer){_AFTER_BEARER}"),  # Bearer tokens
    (("AIza",), r"\bAIza[0-9A-Za-z_\-]{30,}"),  # Google API keys
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\bgh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub
    (("xox", "xapp-"), r"\b(?:xox[abcdeprs]|xapp)-[A-Za-z0-9\-]{10,}"),  # Slack tokens
    (("AKIA", "ASIA"), r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    (("eyJ",), r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
    (("bearer",), rf"bearer(?<!\wbearer){_AFTER_BEARER}"),
    (("BEARER",), rf"BEARER(?<!\wBEARER){_AFTER_BEARER}"),
    (("github_pat_",), r"github_pat_[A-Za-z0-9_]{36,}"),  # GitHub fine-grained tokens
    (("glpat-",), r"glpat-[A-Za-z0-9_\-]{20,}(?:\.[0-9a-z]{9}(?![A-Za-z0-9]))?"),  # GitLab
    (  # Slack webhook URLs: the host stays readable
        ("hooks.slack.com",),
        r"(?P<keep_slack>hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9+/]{20,}",
    ),
    (  # Stripe secret and restricted keys, live and test mode (not publishable pk_ keys)
        ("k_live_", "k_test_"),
        r"[sr]k_(?<![A-Za-z0-9][sr]k_)(?:live|test)_[A-Za-z0-9]{20,}",
    ),
    # AWS secret access keys (40 characters) after a "secret (access) key" label
    (("ecret",), rf"(?P<keep_aws>ecret(?<=[Ss]ecret){_AWS_LABEL_REST}"),
    (("ECRET",), rf"(?P<keep_aws_upper>ECRET(?<=SECRET){_AWS_LABEL_REST}"),
    (  # Azure storage and Service Bus connection strings
        ("Key=",),
        r"(?P<keep_azure>Key=(?:(?<=AccountKey=)|(?<=SharedAccessKey=)))"
        r"[A-Za-z0-9+/]{20,}={0,2}",
    ),
    (  # PEM private keys, whole; without an END line, the base64 lines that follow
        ("PRIVATE KEY",),
        rf"-----BEGIN{_PEM_LABEL}(?:[\s\S]*?-----END{_PEM_LABEL}"
        r"|(?:(?:\s|\\[rn])+(?:[A-Za-z0-9+/=]{16,}|(?:Proc-Type|DEK-Info):[^\n\\]*))*)",
    ),
    (("hf_",), r"hf_(?<!\whf_)[A-Za-z]{34}(?![A-Za-z0-9_])"),  # Hugging Face
    (("gsk_",), r"gsk_[A-Za-z0-9]{48,}"),  # Groq
    (("r8_",), r"r8_(?<![A-Za-z0-9]r8_)[A-Za-z0-9_\-]{37}(?![A-Za-z0-9_\-])"),  # Replicate
    (("tgp_v1_",), rf"tgp_v1_{_KEY}{{40,}}"),  # Together AI
    (("pplx-",), r"pplx-[A-Za-z0-9]{40,}"),  # Perplexity
    (("xai-",), r"xai-[A-Za-z0-9_]{70,}"),  # xAI
    (("ya29.",), rf"ya29\.(?<!\wya29\.){_KEY}{{20,}}"),  # Google OAuth access tokens
    (  # The password of scheme://user:password@host; the rest of the URL stays readable
        ("@",),
        r"(?P<keep_url>://(?<=[A-Za-z0-9+.\-]{2}://)(?=[^\s/?#]{7})"
        r"[^\s:/?#@\"'<>`,;\[\]]*:)(?!\[REDACTED\]@)[^\s/?#\"'<>`,;]+(?=@)",
    ),
    # HTTP Basic credentials: base64 of printable "user:password", 4 characters or more
    (("Basic",), rf"Basic{_AFTER_BASIC}"),
    (("basic",), rf"basic{_AFTER_BASIC}"),
    (("BASIC",), rf"BASIC{_AFTER_BASIC}"),
)
"""``(markers, pattern)``: text that contains one of the markers is searched for the pattern,
and every match is replaced by ``[REDACTED]`` (or, where the pattern has a group named
``keep_...``, by that group followed by ``[REDACTED]``). All markers are looked for in one pass
over the text, and a rule's pattern is searched only where one of its markers occurs. Each
marker is printable ASCII without quotes or backslashes, so that it is also found, unchanged,
in the JSON encoding of the text (see :attr:`Redaction.markers`)."""

BUILTIN_PATTERNS: tuple[str, ...] = tuple(pattern for _, pattern in BUILTIN_RULES)
"""Regular expressions for credential-looking text: after redaction, none of them matches."""


class _Rule(NamedTuple):
    pattern: Pattern[str]
    replacement: str


_RULES = tuple(
    _Rule(
        compiled := re.compile(pattern),
        "".join(rf"\g<{name}>" for name in compiled.groupindex if name.startswith("keep_"))
        + REDACTED,
    )
    for _, pattern in BUILTIN_RULES
)
_MARKERS = tuple(dict.fromkeys(marker for markers, _ in BUILTIN_RULES for marker in markers))

_RAREST_FIRST = "@=_-zqxjZQXJKVYWUGFBPLDHMRNCOESTAIkvby:/.0123456789pgfwmucldrhsnioate"
"""Characters from the rarest to the most common in prose, code and JSON, roughly (others
last): digits, ``:`` and ``.`` are everywhere in JSON."""


def _marker_search() -> tuple[Pattern[str], Pattern[bytes], dict[str | None, int]]:
    """One pattern that finds every marker, for text and for bytes, and the rule of each group.

    Each marker is found from its rarest character, with the rest of it looked for behind and
    ahead (``-(?<=sk-)``, ``J(?<=eyJ)``), and markers are grouped by that character. The
    search then skips from one occurrence of these few characters to the next and tries only
    the markers that hold the character there: a fraction of the time of one substring test
    per marker. The empty group that ends each marker tells which rule it belongs to.
    """
    by_character: dict[str, list[str]] = {}
    rule_of: dict[str | None, int] = {}
    for index, (markers, _) in enumerate(BUILTIN_RULES):
        for marker in markers:
            at = min(range(len(marker)), key=lambda i: _RAREST_FIRST.find(marker[i]) % 100)
            rest = f"(?<={re.escape(marker[: at + 1])})" if at else ""
            if at + 1 < len(marker):
                rest += f"(?={re.escape(marker[at + 1 :])})"
            name = f"m{len(rule_of)}"
            rule_of[name] = index
            by_character.setdefault(marker[at], []).append(f"{rest}(?P<{name}>)")
    pattern = "|".join(
        f"{re.escape(character)}(?:{'|'.join(rests)})" for character, rests in by_character.items()
    )
    return re.compile(pattern), re.compile(pattern.encode()), rule_of


_FIND_MARKERS, _FIND_MARKER_BYTES, _RULE_OF_MARKER = _marker_search()
_has_marker = _FIND_MARKERS.search


def _rules_in(text: str) -> list[int]:
    """Indexes of the built-in rules whose markers ``text`` holds, in order."""
    return sorted({_RULE_OF_MARKER[match.lastgroup] for match in _FIND_MARKERS.finditer(text)})


_MIN_SECRET_LENGTH = 12
"""No built-in pattern matches fewer characters, so shorter strings are never scanned."""

_MAX_PASSES = 8
"""Searches of one text at most; a second one is rare (see :func:`_redact_builtin`)."""

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
        "_builtin_markers",
        "_extra_keys",
        "_extra_patterns",
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
        # into it.
        self._patterns = tuple(_compile(pattern) for pattern in self._extra_patterns)
        self.key_cache: dict[str, bool] = {}
        """Decisions of :meth:`is_secret_key` so far; read directly where a call costs too much."""
        self._builtin_markers = _MARKERS if enabled and builtin else ()
        markers: tuple[bytes, ...] | None
        if not enabled or not (self._builtin_markers or self._patterns):
            scan_from, markers = sys.maxsize, ()
        elif self._patterns:  # extra patterns have no marker: every string is a candidate
            scan_from, markers = 1, None
        else:
            scan_from, markers = _MIN_SECRET_LENGTH, tuple(m.encode() for m in _MARKERS)
        self.scan_from: int = scan_from
        """Strings shorter than this are never changed by :meth:`redact_text`."""
        self.markers = markers
        """ASCII markers, one of which every text that :meth:`redact_text` would change
        contains, also once encoded as JSON; ``None`` when extra patterns make any text a
        candidate."""

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

    def holds_marker(self, data: bytes) -> bool:
        """Whether ``data`` (the JSON of values, say) contains one of :attr:`markers`.

        The answer of ``any(marker in data for marker in markers)``, in one pass over ``data``
        however many markers there are; ``True`` when :attr:`markers` is ``None``.
        """
        if self.markers is None:
            return True
        return bool(self.markers) and _FIND_MARKER_BYTES.search(data) is not None

    def may_hold_secret(self, text: str) -> bool:
        """Cheap test: ``False`` means :meth:`redact_text` would return ``text`` unchanged."""
        if len(text) < self.scan_from:
            return False
        if self._builtin_markers and _has_marker(text) is not None:
            for index in _rules_in(text):
                if _RULES[index].pattern.search(text) is not None:
                    return True
        return any(pattern.search(text) is not None for pattern in self._patterns)

    def redact_text(self, text: str) -> str:
        """``text`` with every credential-looking part replaced by ``[REDACTED]``."""
        if len(text) < self.scan_from:
            return text
        if self._builtin_markers and _has_marker(text) is not None:
            text = _redact_builtin(text)
        for pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return text


def _redact_builtin(text: str) -> str:
    """``text`` with the matches of the built-in rules whose markers it holds replaced.

    A replacement can complete a match that its neighbour prevented (``hf_`` and 34 letters
    glued to a ``sk-`` key is a Hugging Face token once the key is gone), so the search is
    repeated until nothing matches; it is repeated only after a replacement.
    """
    for _ in range(_MAX_PASSES):
        redacted = _redact_once(text)
        if redacted is text:
            break
        text = redacted
    return text


def _redact_once(text: str) -> str:
    """One search of the built-in rules whose markers ``text`` holds.

    Returns ``text`` itself if nothing matches; a replacement always changes the text, since no
    rule matches ``[REDACTED]``. The result is that of one alternation of those rules, in the
    order of :data:`BUILTIN_RULES`: at each place the first rule that matches there wins, and
    the search goes on after its match. Each rule is searched on its own, which lets the
    regular expression engine skip ahead to the literal text a pattern starts with.
    """
    active = _rules_in(text)
    if not active:
        return text
    if len(active) == 1:
        rule = _RULES[active[0]]
        return rule.pattern.sub(rule.replacement, text)
    found: dict[int, Match[str]] = {}
    for index in active:
        match = _RULES[index].pattern.search(text)
        if match is not None:
            found[index] = match
    if not found:
        return text
    pieces: list[str] = []
    done = 0
    while found:
        index, match = min(found.items(), key=_leftmost)
        pieces += (text[done : match.start()], match.expand(_RULES[index].replacement))
        done = match.end()
        for other, later in list(found.items()):
            if later.start() < done:
                again = _RULES[other].pattern.search(text, done)
                if again is None:
                    del found[other]
                else:
                    found[other] = again
    pieces.append(text[done:])
    return "".join(pieces)


def _leftmost(item: tuple[int, Match[str]]) -> tuple[int, int]:
    index, match = item
    return match.start(), index


DEFAULT_REDACTION = Redaction()
"""The rules in force unless ``observer.configure(redaction=...)`` says otherwise."""
