"""API keys: ``aiobs_sk_<key id>_<secret>``, of which only the key id and a hash are stored.

The key id is public (it names the key in listings and when revoking it); the secret part is 32
random bytes. :func:`key_id_of` finds the key id in a presented key so that the stored hash can be
looked up by it and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from .base import KEY_PREFIX

KEY_ID_LENGTH = 10
"""Characters in a key id."""

_ID_ALPHABET = string.ascii_letters + string.digits
"""Key ids avoid ``_`` and ``-`` so that the id ends exactly where the secret begins."""


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, whole_key)`` pair."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_key(whole_key: str) -> str:
    """The stored form of a key: the hex SHA-256 of all of it."""
    return hashlib.sha256(whole_key.encode("utf-8")).hexdigest()


def key_id_of(whole_key: str) -> str | None:
    """The key id inside a presented key, or ``None`` if it is not shaped like one of ours."""
    if not whole_key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = whole_key[len(KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != KEY_ID_LENGTH or not secret:
        return None
    return key_id


def matches(whole_key: str, stored_hash: str) -> bool:
    """Whether ``whole_key`` hashes to ``stored_hash`` (compared in constant time)."""
    return hmac.compare_digest(hash_key(whole_key), stored_hash)
