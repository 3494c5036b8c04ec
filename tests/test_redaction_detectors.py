"""Each built-in detector: credentials it must hide and look-alikes it must leave alone.

Every made-up credential is assembled from pieces (prefix + body), so that no secret scanner
takes this file for a leak; the bodies have the length and alphabet of the real format.
"""

from __future__ import annotations

import base64
import itertools
import re
import string
from typing import Any

import pydantic_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiobs import observe, observer
from aiobs._capture import Capturer
from aiobs.redaction import (
    BUILTIN_PATTERNS,
    BUILTIN_RULES,
    DEFAULT_REDACTION,
    REDACTED,
    Redaction,
    _rules_in,
)
from tests.helpers import flush_document

ALNUM = string.ascii_letters + string.digits
SCRAMBLE = "Zq3xV8mN2bR7tY1uW4eK6pL9hJ5gF0dS7aQ2wE9rT4yU1iO6pA3sD8fG5hJ0kL2zX7cV4bN9mQ1wE6r"


def made_up(length: int, alphabet: str = ALNUM, start: int = 0) -> str:
    """``length`` characters of ``alphabet`` in a fixed, random-looking order."""
    picks = itertools.islice(itertools.cycle(SCRAMBLE), start, start + length)
    return "".join(alphabet[ALNUM.index(c) % len(alphabet)] for c in picks)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


UPPER_DIGITS = string.ascii_uppercase + string.digits
BASE64 = ALNUM + "+/"
OPENAI_LEGACY = "sk-" + made_up(20) + "T3Blbk" + "FJ" + made_up(20, start=7)
OPENAI_PROJECT = "sk-" + "proj-" + made_up(74) + "T3Blbk" + "FJ" + made_up(74, start=3)
AWS_SECRET = made_up(40, BASE64, start=5)
AZURE_KEY = made_up(86, BASE64, start=2) + "=="
PEM_BODY = "\n".join(made_up(64, BASE64, start=n) for n in range(4))
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\n" + PEM_BODY + "\n-----END " + "RSA PRIVATE KEY-----"

Positive = tuple[str, str]
"""A text holding a credential, and the same text as it must be exported."""


def whole(credential: str) -> Positive:
    return credential, REDACTED


# name: (texts that hold a credential, look-alikes that must be kept as they are)
DETECTORS: dict[str, tuple[list[Positive], list[str]]] = {
    "openai": (
        [
            whole(OPENAI_LEGACY),
            whole(OPENAI_PROJECT),
            whole("sk-" + "svcacct-" + made_up(60)),
            whole("sk-" + "admin-" + made_up(60)),
            ("key=abc" + OPENAI_PROJECT, f"key=abc{REDACTED}"),
            ("my" + OPENAI_LEGACY, f"my{REDACTED}"),
            ("OPENAI_API_KEY=" + OPENAI_LEGACY, f"OPENAI_API_KEY={REDACTED}"),
        ],
        [
            "sk-learn",
            "the sk-learn pipeline and scikit-learn",
            "task-" + "abcdefghijklmnopqrst",
            "task-" + "9fceb02d0ae598e95dc970b74767f19372d61af8",
            "task-" + "3b241101-e2bb-4255-8caf-4136c566a962",
            "risk-assessment-framework-v2",
            "desk-admin-dashboard-settings",
        ],
    ),
    "anthropic": (
        [
            whole("sk-" + "ant-api03-" + made_up(93) + "AA"),
            whole("sk-" + "ant-admin01-" + made_up(93) + "AA"),
            ("x" + "sk-" + "ant-api03-" + made_up(93) + "AA", f"x{REDACTED}"),
        ],
        ["sk-ant", "the task-ant-api03-notes folder"],
    ),
    "aiobs": (
        [
            whole("aiobs_sk_" + made_up(10) + "_" + made_up(43, ALNUM + "-_")),
            ("AIOBS_KEY=aiobs_sk_" + made_up(10) + "_x" + made_up(42), f"AIOBS_KEY={REDACTED}"),
            ("key_aiobs_sk_" + made_up(10) + "_" + made_up(43), f"key_{REDACTED}"),
        ],
        ["aiobs_sk_" + "short", "aiobs_skeleton_mode_enabled"],
    ),
    "bearer": (
        [
            ("Authorization: Bearer " + made_up(40), f"Authorization: {REDACTED}"),
            ("bearer " + made_up(12) + " sent", f"{REDACTED} sent"),
            ("BEARER " + "a" * 40, REDACTED),
        ],
        [
            "Bearer abc1234",
            "the bearer documents were signed",
            "The Bearer Instrument Act",
            "a bearer well-known to the bank.",
            "Servers use Bearer authentication for APIs",
        ],
    ),
    "basic": (
        [
            whole("Basic " + b64("user:pass")),
            (
                "Authorization: Basic " + b64("svc-account:" + made_up(16)),
                f"Authorization: {REDACTED}",
            ),
            ("basic " + b64("apikey:" + made_up(24)) + " end", f"{REDACTED} end"),
            whole("BASIC " + b64("admin:x")),
        ],
        [
            "Basic understanding of Python",
            "Basic LinkedIn profile tips",
            "Basic " + b64("hello world, nothing here"),
            "basically fine",
            "Basic " + b64("\x00\x01\x02:\xff"),
        ],
    ),
    "google-api-key": (
        [
            whole("AIza" + made_up(35, ALNUM + "-_")),
            (
                "https://maps.example.com/api?key=AIza" + made_up(35),
                f"https://maps.example.com/api?key={REDACTED}",
            ),
        ],
        ["AIza" + "B" * 29, "AIzawesome"],
    ),
    "google-oauth": (
        [
            whole("ya29." + made_up(120, ALNUM + "-_")),
            ('{"access_token": "ya29.' + made_up(60) + '"}', f'{{"access_token": "{REDACTED}"}}'),
        ],
        ["ya29.5 percent", "kaya29.12"],
    ),
    "github": (
        [
            whole("ghp_" + made_up(36)),
            whole("gho_" + made_up(36)),
            whole("ghu_" + made_up(36)),
            whole("ghs_" + made_up(36)),
            whole("ghr_" + made_up(36)),
        ],
        ["ghp_" + "c" * 29, "ghx_" + "c" * 40],
    ),
    "github-fine-grained": (
        [
            whole("github_" + "pat_" + made_up(22) + "_" + made_up(59, start=4)),
            ("GITHUB_TOKEN=github_" + "pat_" + made_up(82), f"GITHUB_TOKEN={REDACTED}"),
        ],
        ["github_pat_" + "short", "the github_pattern_matcher module"],
    ),
    "gitlab": (
        [
            whole("glpat-" + made_up(20, ALNUM + "-_")),
            whole("glpat-" + made_up(27) + ".01" + made_up(7).lower()),
        ],
        ["glpat-" + "example", "glpat-" + made_up(12)],
    ),
    "slack": (
        [
            whole("xoxb-" + "2048-1024-" + made_up(24)),
            whole("xoxp-" + "2048-1024-2048-" + made_up(32).lower()),
            whole("xapp-" + "1-A0" + made_up(8).upper() + "-2048-" + made_up(64).lower()),
        ],
        ["xoxo-everyone-see-you-soon", "xoxb-" + "123456789"],
    ),
    "slack-webhook": (
        [
            (
                "https://hooks.slack.com/services/T0"
                + made_up(8).upper()
                + "/B0"
                + made_up(8).upper()
                + "/"
                + made_up(24),
                f"https://hooks.slack.com/services/{REDACTED}",
            ),
            (
                "post to hooks.slack.com/workflows/T0"
                + made_up(8).upper()
                + "/A0"
                + made_up(8).upper()
                + "/"
                + made_up(18)
                + "/"
                + made_up(24),
                f"post to hooks.slack.com/workflows/{REDACTED}",
            ),
        ],
        ["https://hooks.slack.com/services/", "https://api.slack.com/messaging/webhooks"],
    ),
    "stripe": (
        [
            whole("sk_" + "live_" + made_up(24)),
            whole("rk_" + "live_" + made_up(99)),
            whole("sk_" + "test_" + made_up(24)),
            ("STRIPE_KEY=rk_" + "test_" + made_up(24), f"STRIPE_KEY={REDACTED}"),
        ],
        ["pk_" + "live_" + made_up(24), "task_test_cases_for_the_runner", "risk_live_dashboard"],
    ),
    "aws-access-key-id": (
        [
            whole("AKIA" + made_up(16, UPPER_DIGITS)),
            whole("ASIA" + made_up(16, UPPER_DIGITS)),
            ("aws_access_key_id=ASIA" + made_up(16, UPPER_DIGITS), f"aws_access_key_id={REDACTED}"),
        ],
        ["AKIA" + "Z3Q7XK2M9PLV4TR", "ASIA-PACIFIC REGIONAL OFFICES", "ASIA" + "z" * 16],
    ),
    "aws-secret-access-key": (
        [
            ("aws_secret_access_key = " + AWS_SECRET, f"aws_secret_access_key = {REDACTED}"),
            ("AWS_SECRET_ACCESS_KEY=" + AWS_SECRET, f"AWS_SECRET_ACCESS_KEY={REDACTED}"),
            ('{"SecretAccessKey": "' + AWS_SECRET + '"}', f'{{"SecretAccessKey": "{REDACTED}"}}'),
            ("aws secret access key: " + AWS_SECRET + ".", f"aws secret access key: {REDACTED}."),
        ],
        [
            "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
            "checksum " + AWS_SECRET,
            "secret_access_key = " + AWS_SECRET + "X",
        ],
    ),
    "azure-storage": (
        [
            (
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="
                + AZURE_KEY
                + ";EndpointSuffix=core.windows.net",
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="
                f"{REDACTED};EndpointSuffix=core.windows.net",
            ),
            (
                "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
                "SharedAccessKey=" + made_up(43, BASE64) + "=",
                "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
                f"SharedAccessKey={REDACTED}",
            ),
        ],
        ["AccountKey=<storage key>", "AccountKey=" + made_up(10)],
    ),
    "jwt": (
        [
            whole("eyJ" + "hbGciOiJub25lIn0" + ".eyJ1c2VyIjoiYWRhIn0" + ".c2lnbmF0dXJlLXZhbHVl"),
            (
                "token=eyJ" + made_up(30) + ".eyJ" + made_up(40) + "." + made_up(43),
                f"token={REDACTED}",
            ),
        ],
        ["eyJhbGciOi.eyJ1c2Vy.c2ln", "eyJ" + made_up(30)],
    ),
    "private-key": (
        [
            whole(PEM),
            ("key:\n" + PEM + "\nend", f"key:\n{REDACTED}\nend"),
            (
                "-----BEGIN " + "OPENSSH PRIVATE KEY-----\n" + PEM_BODY,
                REDACTED,
            ),
            (
                repr(PEM)[1:-1] + " (escaped)",
                f"{REDACTED} (escaped)",
            ),
        ],
        [
            "-----BEGIN PUBLIC KEY-----\n" + PEM_BODY + "\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\n" + PEM_BODY + "\n-----END CERTIFICATE-----",
            "keep the PRIVATE KEY safe",
        ],
    ),
    "huggingface": (
        [
            whole("hf_" + made_up(34, string.ascii_letters)),
            ("HF_TOKEN=hf_" + made_up(34, string.ascii_letters, 3), f"HF_TOKEN={REDACTED}"),
        ],
        ["hf_hub_download", "hf_" + made_up(33, string.ascii_letters)],
    ),
    "groq": (
        [
            whole("gsk_" + made_up(52)),
            ("GROQ_API_KEY=gsk_" + made_up(52, start=9), f"GROQ_API_KEY={REDACTED}"),
        ],
        ["gsk_" + made_up(10), "gsk_config_loader"],
    ),
    "replicate": (
        [
            whole("r8_" + made_up(37)),
            ("Token r8_" + made_up(37, ALNUM + "-_", 2), f"Token {REDACTED}"),
        ],
        ["r8_" + made_up(10), "fr8_" + made_up(37)],
    ),
    "together": (
        [
            whole("tgp_v1_" + made_up(43, ALNUM + "-_")),
            ("TOGETHER_API_KEY=tgp_v1_" + made_up(43, start=1), f"TOGETHER_API_KEY={REDACTED}"),
        ],
        ["tgp_v1_" + made_up(10), "tgp_v1_release_notes"],
    ),
    "perplexity": (
        [
            whole("pplx-" + made_up(48)),
            ("key pplx-" + made_up(48, start=6), f"key {REDACTED}"),
        ],
        ["pplx-api", "pplx-" + made_up(20)],
    ),
    "xai": (
        [
            whole("xai-" + made_up(80)),
            ("XAI_API_KEY=xai-" + made_up(80, start=2), f"XAI_API_KEY={REDACTED}"),
        ],
        ["xai-grok-beta", "xai-" + made_up(20)],
    ),
    "url-password": (
        [
            (
                "postgresql://user:" + "pw" + made_up(8) + "@db.example.com:5432/app",
                f"postgresql://user:{REDACTED}@db.example.com:5432/app",
            ),
            (
                "redis://:" + made_up(12) + "@cache.internal:6379/0",
                f"redis://:{REDACTED}@cache.internal:6379/0",
            ),
            (
                "mongodb+srv://app:p@ss" + made_up(6) + "@cluster0.example.net/?retryWrites=true",
                f"mongodb+srv://app:{REDACTED}@cluster0.example.net/?retryWrites=true",
            ),
            (
                'db = "https://admin:' + "hunter2" + '@example.com/path" # prod',
                f'db = "https://admin:{REDACTED}@example.com/path" # prod',
            ),
        ],
        [
            "https://example.com:8443/path?user=a@b",
            "ssh://git@github.com/org/repo.git",
            "https://user@example.com/",
            "write to alice@example.com or open http://localhost:8000/docs",
            "http://[::1]:8080/ and a@b",
        ],
    ),
}

POSITIVES = [
    pytest.param(text, expected, id=f"{name}-{index}")
    for name, (positives, _) in DETECTORS.items()
    for index, (text, expected) in enumerate(positives)
]
NEGATIVES = [
    pytest.param(text, id=f"{name}-{index}")
    for name, (_, negatives) in DETECTORS.items()
    for index, text in enumerate(negatives)
]


class TestDetectorTable:
    """Every detector has at least two credentials and two look-alikes."""

    @pytest.mark.parametrize("name", list(DETECTORS))
    def test_table_is_complete(self, name: str) -> None:
        positives, negatives = DETECTORS[name]
        assert len(positives) >= 2
        assert len(negatives) >= 2


class TestCredentialsAreHidden:
    """A credential is replaced, alone or in prose, and what surrounds it is kept."""

    @pytest.mark.parametrize(("text", "expected"), POSITIVES)
    def test_alone(self, text: str, expected: str) -> None:
        assert Redaction().redact_text(text) == expected

    @pytest.mark.parametrize(("text", "expected"), POSITIVES)
    def test_in_prose(self, text: str, expected: str) -> None:
        said = Redaction().redact_text(f"Here it is:\n{text}\nThanks!")
        assert said == f"Here it is:\n{expected}\nThanks!"

    @pytest.mark.parametrize(("text", "expected"), POSITIVES)
    def test_idempotent(self, text: str, expected: str) -> None:
        assert Redaction().redact_text(expected) == expected

    @pytest.mark.parametrize(("text", "expected"), POSITIVES)
    def test_a_builtin_pattern_finds_it_and_none_is_left(self, text: str, expected: str) -> None:
        assert any(re.search(pattern, text) for pattern in BUILTIN_PATTERNS)
        assert not any(re.search(pattern, expected) for pattern in BUILTIN_PATTERNS)

    @pytest.mark.parametrize(("text", "expected"), POSITIVES)
    def test_a_marker_survives_json_encoding(self, text: str, expected: str) -> None:
        """The document writer looks for the markers in the JSON bytes of a value."""
        markers = DEFAULT_REDACTION.markers or ()
        assert DEFAULT_REDACTION.may_hold_secret(text) is True
        assert any(marker in pydantic_core.to_json(text) for marker in markers)


class TestLookalikesAreKept:
    """Ordinary words, identifiers, hashes and URLs without a password are left alone."""

    @pytest.mark.parametrize("text", NEGATIVES)
    def test_unchanged(self, text: str) -> None:
        assert Redaction().redact_text(text) is text
        assert Redaction().redact_text(f"see {text} here") == f"see {text} here"

    @pytest.mark.parametrize("text", NEGATIVES)
    def test_no_builtin_pattern_matches(self, text: str) -> None:
        assert not any(re.search(pattern, text) for pattern in BUILTIN_PATTERNS)


class TestMarkers:
    """Markers are printable ASCII that JSON encoding leaves as it is."""

    def test_markers_survive_json(self) -> None:
        for marker in DEFAULT_REDACTION.markers or ():
            assert marker.isascii()
            assert pydantic_core.to_json(marker.decode())[1:-1] == marker
            assert re.fullmatch(rb"[ -~]+", marker)


class TestGluedCredentials:
    """A credential that ends where another begins is hidden too, and redaction is final."""

    @pytest.mark.parametrize(
        "first",
        [
            "hf_" + "A" * 34,
            "AKIA" + made_up(16, UPPER_DIGITS),
            "r8_" + made_up(37),
            "aws_secret_access_key=" + AWS_SECRET,
        ],
    )
    def test_followed_by_a_key_without_a_boundary(self, first: str) -> None:
        text = first + OPENAI_PROJECT
        once = Redaction().redact_text(text)
        assert once.endswith(REDACTED + REDACTED)
        assert Redaction().redact_text(once) == once
        assert not any(re.search(pattern, once) for pattern in BUILTIN_PATTERNS)


BASIC = next(p for p in BUILTIN_PATTERNS if p.startswith("Basic"))


class TestBasicCredentials:
    """ "Basic" and base64 are hidden exactly when it decodes to printable "user:password"."""

    @settings(max_examples=500, deadline=None)
    @given(raw=st.binary(min_size=4, max_size=200))
    def test_any_bytes(self, raw: bytes) -> None:
        text = "Basic " + base64.b64encode(raw).decode()
        credential = b":" in raw and all(0x20 <= byte <= 0x7F for byte in raw)
        assert bool(re.fullmatch(BASIC, text)) is credential
        assert bool(re.search(BASIC, text)) is credential

    @settings(max_examples=500, deadline=None)
    @given(
        user=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7F), max_size=40),
        password=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7F), max_size=80),
    )
    def test_printable_user_and_password(self, user: str, password: str) -> None:
        raw = f"{user}:{password}"
        text = f"Basic {b64(raw)}"
        expected = REDACTED if len(raw) >= 4 else text
        assert Redaction().redact_text(f"[{text}]") == f"[{expected}]"


MARKER_TEXT = [marker.decode() for marker in DEFAULT_REDACTION.markers or ()]
NOISE = ["a", "b", "B", "k", "_", "-", ".", "=", " ", "\n", "é", "ec", "AI", "gh", "xo", "Ke"]


class TestMarkerSearch:
    """The one-pass marker search finds exactly the rules whose markers a substring test finds."""

    @settings(max_examples=1000, deadline=None)
    @given(parts=st.lists(st.sampled_from(MARKER_TEXT + NOISE), max_size=30))
    def test_same_rules_as_substring_tests(self, parts: list[str]) -> None:
        text = "".join(parts)
        expected = sorted(
            {
                index
                for index, (markers, _) in enumerate(BUILTIN_RULES)
                if any(m in text for m in markers)
            }
        )
        assert _rules_in(text) == expected

    @settings(max_examples=1000, deadline=None)
    @given(
        parts=st.lists(
            st.one_of(
                st.sampled_from([m.encode() for m in MARKER_TEXT + NOISE] + [b"\0", b"1.5", b":"]),
                st.binary(max_size=8),
            ),
            max_size=30,
        )
    )
    def test_holds_marker_agrees_with_substring_tests(self, parts: list[bytes]) -> None:
        data = b"".join(parts)
        markers = DEFAULT_REDACTION.markers or ()
        assert DEFAULT_REDACTION.holds_marker(data) is any(m in data for m in markers)

    def test_holds_marker_without_markers(self) -> None:
        assert Redaction(enabled=False).holds_marker(b"sk-proj-0123456789abcdef") is False
        assert Redaction(builtin=False).holds_marker(b"sk-proj-0123456789abcdef") is False
        assert Redaction(extra_patterns=["x"]).holds_marker(b"") is True


class TestHeaderLists:
    """Basic credentials inside header lists are hidden; the header names are kept."""

    def test_snapshot_of_a_header_list(self) -> None:
        headers = [("Authorization", "Basic " + b64("user:pass")), ("Accept", "text/plain")]
        assert Capturer().snapshot(headers) == [
            ["Authorization", REDACTED],
            ["Accept", "text/plain"],
        ]


class TestFlush:
    """Credentials in small arguments, kept by reference until the flush, are hidden there."""

    def test_every_credential_is_hidden_in_the_document(self) -> None:
        @observe
        def call(text: str) -> str:
            return text

        observer.observe()
        cases = [
            (text, expected) for positives, _ in DETECTORS.values() for text, expected in positives
        ]
        for text, _ in cases:
            call(text)
        events: list[dict[str, Any]] = flush_document()["function_events"]
        assert [(event["args"], event["result"]) for event in events] == [
            ([expected], expected) for _, expected in cases
        ]


SECRET_KEY_NAMES = ["pass", "db_pass", "DB_PASS", "smtpPass", "redis-pass", "user.pass", "PASS"]
ORDINARY_KEY_NAMES = [
    "passage",
    "bypass",
    "passthrough",
    "compass",
    "pass_through",
    "passThrough",
    "passes",
    "pass_rate",
    "pass_at_k",
    "passenger",
]


class TestPassKeyName:
    """``pass`` names a secret as the last word of a key, not inside other words."""

    @pytest.mark.parametrize("key", SECRET_KEY_NAMES)
    def test_secret(self, key: str) -> None:
        assert Redaction().is_secret_key(key) is True

    @pytest.mark.parametrize("key", ORDINARY_KEY_NAMES)
    def test_not_secret(self, key: str) -> None:
        assert Redaction().is_secret_key(key) is False
