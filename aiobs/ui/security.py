"""Signed cookies, CSRF tokens, the signing secret and the security headers of the web UI.

The session cookie holds a key's id and project, the time it was issued and a random id of the
sign-in, signed with HMAC-SHA256; it never holds the API key itself. Signing out stores a hash
of the sign-in's id in the database (:meth:`~aiobs.server.storage.Storage.end_sign_in`), so a
copy of the cookie stops working on every worker too. The signing secret is
``AIOBS_UI_SECRET`` when set (every worker and every host serving one database must then share
it), else a random secret kept in a file next to a SQLite database (``<db>.ui-secret``, created
once, mode 0600, shared by the workers of that file), else a random secret kept in the database
(PostgreSQL: table ``aiobs_ui_secret``, written once by the first server that needs it), else a
random secret for this process only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("aiobs.server")

SECRET_ENV = "AIOBS_UI_SECRET"  # noqa: S105 - the name of a variable, not a secret
"""Secret that signs the web UI's cookies; needed when several hosts serve one database."""

SESSION_COOKIE = "aiobs_ui_session"
CSRF_COOKIE = "aiobs_ui_csrf"
SESSION_SECONDS = 12 * 3600
"""How long a sign-in lasts."""

MIN_SECRET_BYTES = 32

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # not no-referrer: with it, browsers send "Origin: null" on form posts, which the CSRF check
    # must refuse; same-origin keeps page addresses (session ids) from other sites all the same
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Headers of every UI response (static files drop ``Cache-Control: no-store``)."""


class Signer:
    """Signs and checks small JSON payloads with HMAC-SHA256.

    ::

        signer = Signer(secrets.token_bytes(32))
        token = signer.sign({"k": "key-id"})
        assert signer.unsign(token) == {"k": "key-id"}
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the UI secret must have at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()

    def sign(self, payload: dict[str, object]) -> str:
        """``payload`` as a cookie-safe string with its signature."""
        data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(data)}.{_b64(self._mac('session', data))}"

    def unsign(self, token: str) -> dict[str, object] | None:
        """The payload of a token this signer made; ``None`` for anything else."""
        body, dot, signature = token.partition(".")
        if not dot:
            return None
        try:
            data = _unb64(body)
            mac = _unb64(signature)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac, self._mac("session", data)):
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    def csrf_token(self, nonce: str) -> str:
        """The form token that goes with the CSRF cookie ``nonce``."""
        return _b64(self._mac("csrf", nonce.encode()))

    def csrf_valid(self, nonce: str | None, token: str | None) -> bool:
        """Whether a form's ``token`` matches the CSRF cookie ``nonce``."""
        if not nonce or not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(nonce).encode())


@dataclass(frozen=True)
class SignIn:
    """What a valid session cookie says: the key and project, when it was issued, and its id."""

    key_id: str
    project_id: str
    issued_at: float
    sign_in_id: str = ""
    """Random, made at sign-in: what signing out ends (see :func:`sign_in_hash`)."""

    @property
    def expires_at(self) -> float:
        """When the cookie stops being valid by itself."""
        return self.issued_at + SESSION_SECONDS


def sign_in_hash(sign_in: SignIn) -> str:
    """What the storage keeps of a sign-in that ended: the SHA-256 of its id, in hex."""
    return hashlib.sha256(sign_in.sign_in_id.encode()).hexdigest()


def session_payload(key_id: str, project_id: str, now: float | None = None) -> dict[str, object]:
    """The payload of a new session cookie."""
    return {
        "k": key_id,
        "p": project_id,
        "t": time.time() if now is None else now,
        "n": secrets.token_urlsafe(16),
    }


def read_session(signer: Signer, token: str | None, now: float | None = None) -> SignIn | None:
    """The sign-in a cookie holds, if it is genuine and not expired."""
    if not token:
        return None
    payload = signer.unsign(token)
    if payload is None:
        return None
    key_id, project_id, sign_in_id = (
        value if isinstance(value, str) else "" for value in map(payload.get, ("k", "p", "n"))
    )
    issued = payload.get("t")
    if not (key_id and project_id and sign_in_id) or not isinstance(issued, (int, float)):
        return None
    age = (time.time() if now is None else now) - issued
    if not 0 <= age < SESSION_SECONDS:
        return None
    return SignIn(key_id, project_id, float(issued), sign_in_id)


def load_secret(
    database_file: Path | None, shared: Callable[[str], str | None] | None = None
) -> bytes:
    """The secret that signs cookies (see the module's docstring for where it comes from).

    ``shared`` is the storage's :meth:`~aiobs.server.storage.Storage.shared_ui_secret`: given a
    new random secret, the one the database keeps (``None`` when it keeps none).

    Raises:
        ValueError: ``AIOBS_UI_SECRET`` is set but shorter than 32 characters.
    """
    configured = os.environ.get(SECRET_ENV, "")
    if configured:
        if len(configured) < MIN_SECRET_BYTES:
            raise ValueError(
                f"{SECRET_ENV} must be at least {MIN_SECRET_BYTES} characters long: generate one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return configured.encode()
    if database_file is not None:
        return _file_secret(database_file.with_name(database_file.name + ".ui-secret"))
    stored = shared(secrets.token_urlsafe(48)) if shared is not None else None
    if stored is not None and len(stored) >= MIN_SECRET_BYTES:
        return stored.encode()
    logger.info(
        "web UI: signing sign-ins with a secret of this process only; set %s so that several "
        "workers or a restart keep them",
        SECRET_ENV,
    )
    return secrets.token_bytes(MIN_SECRET_BYTES)


def _file_secret(path: Path) -> bytes:
    """The secret stored in ``path``, created there (atomically, mode 0600) when missing."""
    with contextlib.suppress(FileNotFoundError):
        return _read_secret(path)
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):  # another worker made it first: use theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    secret = path.read_text().strip().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"{path} holds no usable UI secret: delete it and restart the server")
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
