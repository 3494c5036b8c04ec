"""Secret redaction: which keys and which parts of text never reach an export."""

from __future__ import annotations

import base64
import re
import string
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiobs.redaction import (
    BUILTIN_PATTERNS,
    BUILTIN_RULES,
    DEFAULT_REDACTION,
    REDACTED,
    Redaction,
    key_words,
)

# Made-up credentials in each built-in shape, assembled so that no scanner mistakes them for real.
OPENAI = "sk-proj-" + "Zq3xV8mN2bR7tY1uW4eK6pL9"
ANTHROPIC = "sk-ant-api03-" + "Hf7Gk2Lm9Np4Qr8St1Uv5Wx3Yz6Ab0Cd"
AIOBS = "aiobs_sk_" + "live4f8e2d9c1b"
BEARER_TOKEN = "d3F5.abc-DEF_ghi~jkl+mno/pqr"
GOOGLE = "AIza" + "SyD3k9Lm2Np7Qr4St8Uv1Wx6Yz0Ab5Cd3Ef"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
SLACK = "xoxb-" + "2048-1024-Xy7Zq3Wv9Ut5"
AWS = "AKIA" + "Z3Q7XK2M9PLV4TRB"
JWT = "eyJ" + "hbGciOiJub25lIn0" + ".eyJ1c2VyIjoiYWRhIn0" + ".c2lnbmF0dXJlLXZhbHVl"
SSN = r"\b\d{3}-\d{2}-\d{4}\b"

CREDENTIALS = [
    pytest.param(OPENAI, 0, id="openai"),
    pytest.param(ANTHROPIC, 0, id="anthropic"),
    pytest.param(AIOBS, 1, id="aiobs"),
    pytest.param("Bearer " + BEARER_TOKEN, 2, id="bearer"),
    pytest.param(GOOGLE, 3, id="google"),
    pytest.param(GITHUB, 4, id="github"),
    pytest.param("gho_" + GITHUB[4:], 4, id="github-oauth"),
    pytest.param(SLACK, 5, id="slack"),
    pytest.param(AWS, 6, id="aws"),
    pytest.param(JWT, 7, id="jwt"),
]


class TestConstants:
    """The replacement text, the 29 built-in rules and the default rules."""

    def test_redacted(self) -> None:
        assert REDACTED == "[REDACTED]"

    def test_builtin_rules(self) -> None:
        assert len(BUILTIN_RULES) == 29
        assert tuple(pattern for _, pattern in BUILTIN_RULES) == BUILTIN_PATTERNS
        for pattern in BUILTIN_PATTERNS:
            re.compile(pattern)

    def test_default_redaction(self) -> None:
        assert DEFAULT_REDACTION.enabled is True
        assert DEFAULT_REDACTION.scan_from == 12
        assert DEFAULT_REDACTION.markers == (
            b"sk-",
            b"_sk_",
            b"Bearer",
            b"AIza",
            b"ghp_",
            b"gho_",
            b"ghu_",
            b"ghs_",
            b"ghr_",
            b"xox",
            b"xapp-",
            b"AKIA",
            b"ASIA",
            b"eyJ",
            b"bearer",
            b"BEARER",
            b"github_pat_",
            b"glpat-",
            b"hooks.slack.com",
            b"k_live_",
            b"k_test_",
            b"ecret",
            b"ECRET",
            b"Key=",
            b"PRIVATE KEY",
            b"hf_",
            b"gsk_",
            b"r8_",
            b"tgp_v1_",
            b"pplx-",
            b"xai-",
            b"ya29.",
            b"@",
            b"Basic",
            b"basic",
            b"BASIC",
        )

    def test_repr(self) -> None:
        rules = Redaction(builtin=False, extra_keys=["Customer_Email"], extra_patterns=["x\\d"])
        assert repr(rules) == (
            "Redaction(enabled=True, builtin=False, extra_keys=['customeremail'], "
            "extra_patterns=['x\\\\d'])"
        )


class TestKeyWords:
    """Keys are split into lowercase words at case changes and non-alphanumerics."""

    @pytest.mark.parametrize(
        ("key", "words"),
        [
            ("X-Api-Key", ["x", "api", "key"]),
            ("xApiKey", ["x", "api", "key"]),
            ("OPENAI_API_KEY", ["openai", "api", "key"]),
            ("user_ID2Name", ["user", "id2", "name"]),
            ("__init__", ["init"]),
            ("a1B2", ["a1", "b2"]),
            ("---", []),
            ("", []),
        ],
    )
    def test_split(self, key: str, words: list[str]) -> None:
        assert key_words(key) == words


SECRET_KEYS = [
    "api_key",
    "apiKey",
    "APIKey",
    "apikey",
    "API_KEY",
    "X-Api-Key",
    "x-api-key",
    "openai_api_key",
    "OPENAI_API_KEY",
    "anthropicApiKey",
    "password",
    "Password",
    "user_password",
    "passwd",
    "passphrase",
    "db_pwd",
    "secret",
    "client_secret",
    "clientSecret",
    "aws_secret_access_key",
    "token",
    "access_token",
    "accessToken",
    "id_token",
    "refresh_token",
    "session_token",
    "github.token",
    "authorization",
    "Authorization",
    "Proxy-Authorization",
    "HTTP_AUTHORIZATION",
    "x-auth",
    "cookie",
    "Cookie",
    "set-cookie",
    "Set-Cookie",
    "credential",
    "credentials",
    "private_key",
    "privateKey",
    "access_key",
    "secret_key",
]

ORDINARY_KEYS = [
    "max_tokens",
    "maxTokens",
    "token_count",
    "tokens",
    "prompt_tokens",
    "completion_tokens",
    "tokenizer",
    "session_id",
    "cache_key",
    "primary_key",
    "public_key",
    "key",
    "key_id",
    "keys",
    "api",
    "name",
    "messages",
    "model",
    "temperature",
    "author",
    "authority",
    "auth_method",
    "secretary",
    "passage",
    "keyboard",
    "monkey",
    "",
    "---",
]


class TestSecretKeys:
    """Keys naming a secret are secret, whatever their case and separators."""

    @pytest.mark.parametrize("key", SECRET_KEYS)
    def test_secret(self, key: str) -> None:
        assert Redaction().is_secret_key(key) is True

    @pytest.mark.parametrize("key", ORDINARY_KEYS)
    def test_not_secret(self, key: str) -> None:
        assert Redaction().is_secret_key(key) is False

    @pytest.mark.parametrize(
        "key", ["XApiKey", "OpenAIApiKey", "GCPApiKey", "HTTPAuthorization", "AWSSecretKey"]
    )
    def test_acronym_before_a_secret_word(self, key: str) -> None:
        assert DEFAULT_REDACTION.is_secret_key(key) is True


class TestKeyCache:
    """Decisions are cached per key; the cache is emptied when it reaches 4096 keys."""

    def test_decisions_are_recorded(self) -> None:
        rules = Redaction()
        assert rules.key_cache == {}
        rules.is_secret_key("api_key")
        rules.is_secret_key("name")
        assert rules.key_cache == {"api_key": True, "name": False}

    def test_cached_decision_is_used(self) -> None:
        rules = Redaction()
        rules.key_cache["name"] = True
        assert rules.is_secret_key("name") is True

    def test_cache_is_bounded(self) -> None:
        rules = Redaction()
        for index in range(4096):
            rules.is_secret_key(f"field_{index}")
        assert len(rules.key_cache) == 4096
        assert rules.is_secret_key("password") is True
        assert rules.key_cache == {"password": True}


class TestBuiltinCredentials:
    """Each built-in rule replaces the credential and keeps the words around it."""

    @pytest.mark.parametrize(("credential", "rule"), CREDENTIALS)
    def test_shape_matches_its_rule(self, credential: str, rule: int) -> None:
        assert re.fullmatch(BUILTIN_PATTERNS[rule], credential)

    @pytest.mark.parametrize(("credential", "rule"), CREDENTIALS)
    def test_replaced_in_prose(self, credential: str, rule: int) -> None:
        text = f"The key {credential} was rotated yesterday."
        assert Redaction().redact_text(text) == f"The key {REDACTED} was rotated yesterday."

    @pytest.mark.parametrize(("credential", "rule"), CREDENTIALS)
    def test_replaced_alone_and_between_punctuation(self, credential: str, rule: int) -> None:
        rules = Redaction()
        assert rules.redact_text(credential) == REDACTED
        assert rules.redact_text(f"({credential});") == f"({REDACTED});"
        assert rules.redact_text(f'{{"key": "{credential}"}}') == f'{{"key": "{REDACTED}"}}'
        assert rules.may_hold_secret(credential) is True

    def test_jwt_ends_before_a_full_stop(self) -> None:
        assert Redaction().redact_text(f"token: {JWT}.") == f"token: {REDACTED}."

    def test_several_credentials_in_one_text(self) -> None:
        text = f"a {OPENAI} b {AWS}\nc {JWT} d {SLACK}"
        expected = f"a {REDACTED} b {REDACTED}\nc {REDACTED} d {REDACTED}"
        assert Redaction().redact_text(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "sk-" + "a" * 15,
            "task-" + "abcdefghijklmnopqrst",
            "aiobs_sk_" + "short",
            "AIza" + "B" * 29,
            "ghp_" + "c" * 29,
            "ghx_" + "c" * 40,
            "xoxz-" + "1234567890",
            "xoxb-" + "123456789",
            "AKIA" + "Z3Q7XK2M9PLV4TR",
            "AKIA" + "Z3Q7XK2M9PLV4TRBX",
            "AKIA" + "z3q7xk2m9plv4trb",
            "eyJhbGciOi.eyJ1c2Vy.c2ln",
            "Bearer abc1234",
            "BeArEr " + BEARER_TOKEN,
            "ordinary text, long enough to be scanned for markers",
        ],
    )
    def test_near_misses_are_kept(self, text: str) -> None:
        assert Redaction().redact_text(text) is text


class TestBearer:
    """Bearer tokens are hidden in the three usual spellings, with any whitespace."""

    @pytest.mark.parametrize("word", ["Bearer", "bearer", "BEARER"])
    def test_spellings(self, word: str) -> None:
        text = f"Authorization: {word} {BEARER_TOKEN}"
        assert Redaction().redact_text(text) == f"Authorization: {REDACTED}"

    @pytest.mark.parametrize("gap", ["  ", "\t", "\n", " \r\n "])
    def test_whitespace(self, gap: str) -> None:
        assert Redaction().redact_text(f"use Bearer{gap}{BEARER_TOKEN} now") == (
            f"use {REDACTED} now"
        )

    def test_padding_is_included(self) -> None:
        assert Redaction().redact_text("Bearer abcdefgh== rest") == f"{REDACTED} rest"


class TestScanThreshold:
    """Strings shorter than scan_from are never scanned, and markers gate the scan."""

    @pytest.mark.parametrize(
        "text", ["", "sk-abcdefgh", "AKIA1234567", "Bearer abcd", "eyJ.eyJ.sig", "x" * 11]
    )
    def test_short_strings(self, text: str) -> None:
        assert len(text) < DEFAULT_REDACTION.scan_from
        assert DEFAULT_REDACTION.may_hold_secret(text) is False
        assert DEFAULT_REDACTION.redact_text(text) is text

    def test_text_without_any_marker(self) -> None:
        assert DEFAULT_REDACTION.may_hold_secret("nothing to see in this sentence") is False

    def test_marker_without_a_credential(self) -> None:
        assert DEFAULT_REDACTION.may_hold_secret("the task-runner and AKIA are fine") is False

    def test_credential(self) -> None:
        assert DEFAULT_REDACTION.may_hold_secret(f"see {AWS}") is True

    def test_extra_patterns_scan_every_string(self) -> None:
        rules = Redaction(extra_patterns=[r"\d{4}"])
        assert (rules.scan_from, rules.markers) == (1, None)
        assert rules.may_hold_secret("") is False
        assert rules.redact_text("1234") == REDACTED


class TestExtraKeys:
    """extra_keys hide more names, compared ignoring case, "_" and "-"."""

    @pytest.mark.parametrize(
        "key",
        [
            "customer_email",
            "customerEmail",
            "CustomerEmail",
            "CUSTOMER_EMAIL",
            "customer-email",
            "Customer-Email",
        ],
    )
    def test_variants_are_hidden(self, key: str) -> None:
        assert Redaction(extra_keys=["customer_email"]).is_secret_key(key) is True

    @pytest.mark.parametrize("key", ["email", "customer", "customer_emails", "customer_email_id"])
    def test_only_the_whole_name(self, key: str) -> None:
        assert Redaction(extra_keys=["customer_email"]).is_secret_key(key) is False

    def test_builtin_keys_still_apply(self) -> None:
        assert Redaction(extra_keys=["ssn"]).is_secret_key("password") is True

    def test_key_must_be_a_string(self) -> None:
        with pytest.raises(ValueError, match=r"^Redaction key 3 must be a string$"):
            Redaction(extra_keys=["ok", 3])  # type: ignore[list-item]


class TestExtraPatterns:
    """extra_patterns (strings or compiled) hide their matches on top of the built-in rules."""

    def test_string_pattern(self) -> None:
        rules = Redaction(extra_patterns=[SSN])
        assert rules.redact_text(f"SSN 123-45-6789 and {OPENAI} on file") == (
            f"SSN {REDACTED} and {REDACTED} on file"
        )

    def test_compiled_pattern(self) -> None:
        rules = Redaction(extra_patterns=[re.compile(r"acct-\d{6}")])
        assert rules.redact_text("acct-123456 ok") == f"{REDACTED} ok"

    def test_short_match_is_found(self) -> None:
        assert Redaction(extra_patterns=[SSN]).redact_text("123-45-6789") == REDACTED

    def test_invalid_pattern(self) -> None:
        with pytest.raises(
            ValueError, match=r"^Redaction pattern '\(unclosed' does not compile: "
        ) as error:
            Redaction(extra_patterns=["(unclosed"])
        message = str(error.value)
        assert "missing ), unterminated subpattern at position 0" in message
        assert message.endswith("; check extra_patterns")
        assert isinstance(error.value.__cause__, re.error)

    def test_invalid_pattern_without_builtins(self) -> None:
        with pytest.raises(ValueError, match=r"^Redaction pattern '\[z-a\]' does not compile: "):
            Redaction(builtin=False, extra_patterns=["[z-a]"])

    def test_flags_of_a_compiled_pattern(self) -> None:
        rules = Redaction(extra_patterns=[re.compile(r"acct-\d{6}", re.IGNORECASE)])
        assert rules.redact_text("ACCT-123456") == REDACTED

    def test_leading_inline_flag(self) -> None:
        rules = Redaction(extra_patterns=[r"(?i)acct-\d{6}"])
        assert rules.redact_text("ACCT-123456") == REDACTED


class TestBuiltinOff:
    """builtin=False keeps only the extra keys and patterns."""

    def test_only_extras(self) -> None:
        rules = Redaction(builtin=False, extra_keys=["ssn"], extra_patterns=[SSN])
        assert rules.is_secret_key("password") is False
        assert rules.is_secret_key("SSN") is True
        assert rules.redact_text(f"{OPENAI} 123-45-6789") == f"{OPENAI} {REDACTED}"

    def test_nothing_left(self) -> None:
        rules = Redaction(builtin=False)
        assert rules.is_secret_key("api_key") is False
        assert rules.redact_text(OPENAI) is OPENAI
        assert (rules.scan_from, rules.markers) == (sys.maxsize, ())


class TestDisabled:
    """enabled=False changes nothing, extra rules included."""

    def test_nothing_is_hidden(self) -> None:
        rules = Redaction(enabled=False, extra_keys=["ssn"], extra_patterns=[SSN])
        text = f"{OPENAI} 123-45-6789"
        assert rules.redact_text(text) is text
        assert rules.may_hold_secret(text) is False
        assert rules.is_secret_key("password") is False
        assert rules.is_secret_key("ssn") is False
        assert (rules.scan_from, rules.markers) == (sys.maxsize, ())


class TestWithKeys:
    """with_keys() returns new rules hiding more names; the original is unchanged."""

    def test_adds_names(self) -> None:
        base = Redaction()
        more = base.with_keys(["customer_email"])
        assert more is not base
        assert more.is_secret_key("customerEmail") is True
        assert more.is_secret_key("password") is True
        assert base.is_secret_key("customerEmail") is False

    def test_keeps_patterns_and_switches(self) -> None:
        patterned = Redaction(extra_patterns=[SSN]).with_keys(["x"])
        assert patterned.redact_text("123-45-6789") == REDACTED
        assert Redaction(enabled=False).with_keys(["x"]).is_secret_key("x") is False
        assert Redaction(builtin=False).with_keys(["x"]).is_secret_key("password") is False

    def test_chains(self) -> None:
        rules = Redaction(extra_keys=["first_name"]).with_keys(["ssn"]).with_keys(["dob"])
        assert [rules.is_secret_key(key) for key in ("firstName", "SSN", "DOB", "age")] == [
            True,
            True,
            True,
            False,
        ]


# -- properties ------------------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
FRAGMENTS = [
    "sk-",
    "sk-proj-",
    "sk-ant-",
    "aiobs_sk_",
    "Bearer ",
    "bearer\t",
    "BEARER ",
    "AIza",
    "ghp_",
    "gho_",
    "xoxb-",
    "AKIA",
    "eyJ",
    "xsk-proj-",
    "Basic ",
    "basic\t",
    "dXNlcjpwYXNz",
    "YWRtaW46eA==",
    "github_pat_",
    "glpat-",
    "hooks.slack.com/services/",
    "sk_live_",
    "rk_test_",
    "ASIA",
    "aws_secret_access_key = ",
    '"SecretAccessKey": "',
    "AccountKey=",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "\\n",
    "hf_",
    "gsk_",
    "r8_",
    "tgp_v1_",
    "pplx-",
    "xai-",
    "ya29.",
    "xapp-",
    "postgresql://",
    "s3://",
    ":",
    "@",
    "/",
    "ABCDEFGHIJKLMNOP",
    "abcdefghijklmnopqrstuvwxyz0123456789",
    REDACTED,
    ".",
    "=",
    "-",
    "_",
    " ",
    "\n",
    "é",
]
texts = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.one_of(
            st.sampled_from(FRAGMENTS),
            st.text(alphabet=ALNUM + "-_.=/+~ é", max_size=40),
        ),
        max_size=14,
    ).map("".join),
)
tokens = st.text(alphabet=ALNUM, min_size=40, max_size=60)
credentials = st.one_of(
    st.sampled_from([OPENAI, ANTHROPIC, AIOBS, GOOGLE, GITHUB, SLACK, AWS, JWT]),
    tokens.map(lambda token: "sk-" + token),
    tokens.map(lambda token: "Bearer " + token),
    tokens.map(lambda token: "ghp_" + token),
    tokens.map(lambda token: "AIza" + token),
    st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=16).map(
        lambda tail: "AKIA" + tail
    ),
    st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=16).map(
        lambda tail: "ASIA" + tail
    ),
    tokens.map(lambda token: "github_pat_" + token),
    tokens.map(lambda token: "glpat-" + token),
    tokens.map(lambda token: "sk_live_" + token),
    tokens.map(lambda token: "gsk_" + token + token),
    tokens.map(lambda token: "tgp_v1_" + token),
    tokens.map(lambda token: "pplx-" + token),
    tokens.map(lambda token: "xai-" + token + token),
    tokens.map(lambda token: "ya29." + token),
    st.text(alphabet=string.ascii_letters, min_size=34, max_size=34).map(lambda tail: "hf_" + tail),
    st.text(alphabet=ALNUM, min_size=37, max_size=37).map(lambda tail: "r8_" + tail),
    st.tuples(st.text(ALNUM, min_size=1, max_size=12), st.text(ALNUM, min_size=3, max_size=20)).map(
        lambda pair: "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
    ),
)
prose = st.text(alphabet="abcdefghijklmnop ,!?", max_size=30)
"""Text that cannot be, or extend, a credential: no s, r, x, capitals, digits, _ or -."""


class TestRedactionProperties:
    """redact_text is idempotent, leaves no built-in match, and keeps what surrounds it."""

    @settings(max_examples=200, deadline=None)
    @given(text=texts)
    def test_idempotent_and_complete(self, text: str) -> None:
        once = DEFAULT_REDACTION.redact_text(text)
        assert DEFAULT_REDACTION.redact_text(once) == once
        for pattern in BUILTIN_PATTERNS:
            assert re.search(pattern, once) is None, (pattern, once)

    @settings(max_examples=200, deadline=None)
    @given(text=texts)
    def test_may_hold_secret_is_a_sound_filter(self, text: str) -> None:
        if not DEFAULT_REDACTION.may_hold_secret(text):
            assert DEFAULT_REDACTION.redact_text(text) is text
        if DEFAULT_REDACTION.redact_text(text) != text:
            assert len(text) >= DEFAULT_REDACTION.scan_from
            assert any(marker.decode() in text for marker in DEFAULT_REDACTION.markers or ())

    @settings(max_examples=100, deadline=None)
    @given(before=prose, credential=credentials, after=prose)
    def test_surrounding_words_survive(self, before: str, credential: str, after: str) -> None:
        text = f"{before} {credential} {after}"
        assert DEFAULT_REDACTION.redact_text(text) == f"{before} {REDACTED} {after}"
