"""The web UI's routes through FastAPI's TestClient over real SQLite storage."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aiobs.server.app import create_app
from aiobs.server.storage import NewKey, Storage, open_storage
from aiobs.ui.routes import script_json
from aiobs.ui.security import (
    CSRF_COOKIE,
    SECRET_ENV,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Signer,
    load_secret,
    read_session,
    session_payload,
)
from tests.server.app_fixtures import document, session
from tests.ui.conftest import seeded_storage
from tests.ui.data import START

BASE = "http://127.0.0.1:8080"


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Storage, NewKey, NewKey]]:
    storage, key, other = seeded_storage(tmp_path)
    yield storage, key, other
    storage.close()


@pytest.fixture
def client(seeded: tuple[Storage, NewKey, NewKey]) -> TestClient:
    return TestClient(create_app(seeded[0]), base_url=BASE, raise_server_exceptions=False)


@pytest.fixture
def key(seeded: tuple[Storage, NewKey, NewKey]) -> NewKey:
    return seeded[1]


def csrf_of(client: TestClient) -> str:
    page = client.get("/ui/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, key: NewKey) -> None:
    answer = client.post(
        "/ui/signin", data={"key": key.secret, "csrf": csrf_of(client)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/"


class TestSignIn:
    """A pasted live key signs in with a signed, HttpOnly, SameSite=Strict cookie."""

    def test_root_leads_to_the_ui_and_the_ui_to_sign_in(self, client: TestClient) -> None:
        assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"
        answer = client.get("/ui/", follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/ui/signin")

    def test_the_session_cookie_is_signed_http_only_and_strict(
        self, client: TestClient, key: NewKey
    ) -> None:
        answer = client.post(
            "/ui/signin", data={"key": key.secret, "csrf": csrf_of(client)}, follow_redirects=False
        )
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/ui" in cookie
        assert f"Max-Age={SESSION_SECONDS}" in cookie
        assert key.secret not in cookie
        assert client.get("/ui/").status_code == 200

    def test_a_wrong_key_is_refused_with_a_message(self, client: TestClient) -> None:
        answer = client.post("/ui/signin", data={"key": "aiobs_sk_nope", "csrf": csrf_of(client)})
        assert answer.status_code == 401
        assert "not a live API key of this server" in answer.text
        assert SESSION_COOKIE not in client.cookies

    def test_a_tampered_cookie_is_not_a_sign_in(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        token = client.cookies[SESSION_COOKIE]
        client.cookies.set(SESSION_COOKIE, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
        answer = client.get("/ui/", follow_redirects=False)
        assert answer.headers["location"] == "/ui/signin"

    def test_a_revoked_keys_sign_in_ends(
        self, seeded: tuple[Storage, NewKey, NewKey], key: NewKey
    ) -> None:
        app = create_app(seeded[0], key_cache_seconds=0)
        app.state.aiobs_ui.keys._ttl = 0  # no reuse of the live keys list in this test
        client = TestClient(app, base_url=BASE)
        sign_in(client, key)
        assert client.get("/ui/", follow_redirects=False).status_code == 200
        seeded[0].revoke_key(key.record.key_id)
        assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/signin"

    def test_sign_out_removes_the_cookie(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/").text)
        assert csrf is not None
        answer = client.post("/ui/signout", data={"csrf": csrf.group(1)}, follow_redirects=False)
        assert answer.headers["location"] == "/ui/signin"
        assert SESSION_COOKIE not in client.cookies
        assert client.get("/ui/", follow_redirects=False).status_code == 303

    def test_a_copied_cookie_stops_working_after_sign_out(
        self, seeded: tuple[Storage, NewKey, NewKey], key: NewKey, tmp_path: Path
    ) -> None:
        """Sign-out ends the sign-in on the server, for every worker of the database."""
        client = TestClient(create_app(seeded[0]), base_url=BASE)
        sign_in(client, key)
        copied = client.cookies[SESSION_COOKIE]
        # another worker: its own storage on the same database file, the same signing secret
        worker = open_storage(f"sqlite:///{tmp_path}/ui.db")
        try:
            thief = TestClient(create_app(worker), base_url=BASE)
            thief.cookies.set(SESSION_COOKIE, copied)
            assert thief.get("/ui/", follow_redirects=False).status_code == 200
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/").text)
            assert csrf is not None
            client.post("/ui/signout", data={"csrf": csrf.group(1)}, follow_redirects=False)
            for who in (thief, TestClient(create_app(seeded[0]), base_url=BASE)):
                who.cookies.set(SESSION_COOKIE, copied)
                answer = who.get("/ui/", follow_redirects=False)
                assert answer.status_code == 303
                assert answer.headers["location"] == "/ui/signin"
                node = who.get("/ui/sessions/agent-run-1/nodes/llm1", follow_redirects=False)
                assert node.status_code == 401
            sign_in(client, key)  # a new sign-in of the same key works
            assert client.get("/ui/", follow_redirects=False).status_code == 200
        finally:
            worker.close()


class TestCsrf:
    """State-changing forms need the token that goes with the page's CSRF cookie."""

    def test_sign_in_without_the_token_is_refused(self, client: TestClient, key: NewKey) -> None:
        csrf_of(client)  # the browser has the cookie, the forged form has no token
        answer = client.post("/ui/signin", data={"key": key.secret}, follow_redirects=False)
        assert answer.status_code == 403
        assert SESSION_COOKIE not in client.cookies

    def test_sign_in_with_another_cookies_token_is_refused(
        self, client: TestClient, key: NewKey
    ) -> None:
        token = csrf_of(client)
        client.cookies.clear()
        answer = client.post(
            "/ui/signin",
            data={"key": key.secret, "csrf": token},
            headers={"Cookie": f"{CSRF_COOKIE}=another-nonce"},
        )
        assert answer.status_code == 403

    def test_a_cross_site_post_is_refused_even_with_the_token(
        self, client: TestClient, key: NewKey
    ) -> None:
        token = csrf_of(client)
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            answer = client.post(
                "/ui/signin", data={"key": key.secret, "csrf": token}, headers=headers
            )
            assert answer.status_code == 403

    def test_sign_out_without_the_token_is_refused(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        answer = client.post("/ui/signout", data={}, follow_redirects=False)
        assert answer.status_code == 403
        assert client.get("/ui/").status_code == 200  # still signed in


class TestHeadersAndOpenApi:
    """UI responses carry the security headers; the API and its OpenAPI document are unchanged."""

    def test_every_ui_response_has_the_security_headers(
        self, client: TestClient, key: NewKey
    ) -> None:
        sign_in(client, key)
        for path in ("/ui/signin", "/ui/", "/ui/sessions/agent-run-1", "/ui/static/ui.css"):
            headers = client.get(path, follow_redirects=False).headers
            csp = headers["content-security-policy"]
            assert "default-src 'self'" in csp
            assert "script-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"

    def test_ui_routes_are_not_in_openapi(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        assert not [path for path in paths if path == "/" or path.startswith("/ui")]
        assert "/v1/sessions" in paths

    def test_the_api_has_no_ui_headers(self, client: TestClient) -> None:
        assert "content-security-policy" not in client.get("/health").headers

    def test_pages_have_no_inline_script(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        page = client.get("/ui/sessions/agent-run-1").text
        scripts = re.findall(r"<script([^>]*)>", page)
        assert scripts == [
            ' type="application/json" id="trace-data"',
            ' type="module" src="/ui/static/session.js"',
        ]


class TestProjects:
    """A key sees its own project's sessions only."""

    def test_another_projects_session_is_the_missing_session_page(
        self, seeded: tuple[Storage, NewKey, NewKey]
    ) -> None:
        client = TestClient(create_app(seeded[0]), base_url=BASE)
        sign_in(client, seeded[2])
        theirs = client.get("/ui/sessions/agent-run-1")
        missing = client.get("/ui/sessions/no-such-run")
        assert theirs.status_code == missing.status_code == 404
        strip = re.compile(r'name="csrf" value="[^"]+"')
        assert strip.sub("", theirs.text) == strip.sub("", missing.text)
        assert "other-project-run" in client.get("/ui/").text
        assert "agent-run-1" not in client.get("/ui/").text

    def test_pages_of_fifty_keep_the_filters(self, tmp_path: Path) -> None:
        storage = open_storage(f"sqlite:///{tmp_path}/paged.db")
        key = storage.create_key("free")
        runs = [
            session(f"run {n}", started_at=START + n, labels={"env": "ci"}, session_id=f"r{n:03}")
            for n in range(55)
        ]
        storage.ingest(key.record, document(runs), None)
        client = TestClient(create_app(storage), base_url=BASE)
        sign_in(client, key)
        first = client.get("/ui/?label=env:ci")
        ids = re.findall(r'href="/ui/sessions/(r\d+)"', first.text)
        assert ids == [f"r{n:03}" for n in range(54, 4, -1)]
        more = re.search(r'<a rel="next" href="([^"]+)"', first.text)
        assert more is not None
        second = client.get(html.unescape(more.group(1)))
        assert "label=env%3Aci" in more.group(1)
        assert re.findall(r'href="/ui/sessions/(r\d+)"', second.text) == [
            "r004",
            "r003",
            "r002",
            "r001",
            "r000",
        ]
        assert 'rel="next"' not in second.text
        storage.close()

    def test_a_label_value_with_a_comma(self, tmp_path: Path) -> None:
        """Repeated ``label`` parameters are taken whole; the box's comma form still works."""
        storage = open_storage(f"sqlite:///{tmp_path}/labels.db")
        key = storage.create_key("free")
        runs = [
            session("both", labels={"team": "search,ranking", "env": "prod"}, session_id="both"),
            session("search only", labels={"team": "search", "env": "prod"}, session_id="one"),
        ]
        storage.ingest(key.record, document(runs), None)
        client = TestClient(create_app(storage), base_url=BASE)
        sign_in(client, key)

        def found(query: str) -> list[str]:
            answer = client.get("/ui/?" + query)
            assert answer.status_code == 200, answer.text
            return re.findall(r'href="/ui/sessions/(\w+)"', answer.text)

        assert found("label=team:search,ranking&label=env:prod") == ["both"]
        assert found("label=team:search,ranking") == ["both"]  # the box: no colon after the comma
        assert found("label=team:search&label=env:prod") == ["one"]
        assert found("label=team:search, env:prod") == ["one"]  # the comma form
        assert found("label=env:prod") == ["both", "one"]
        page = client.get("/ui/?label=team:search,ranking&label=env:prod")
        assert 'value="team:search,ranking, env:prod"' in page.text
        storage.close()

    def test_pages_keep_repeated_labels(self, tmp_path: Path) -> None:
        storage = open_storage(f"sqlite:///{tmp_path}/paged.db")
        key = storage.create_key("free")
        labels = {"team": "a,b", "env": "ci"}
        runs = [
            session(f"run {n}", started_at=START + n, labels=labels, session_id=f"r{n:03}")
            for n in range(55)
        ]
        storage.ingest(key.record, document(runs), None)
        client = TestClient(create_app(storage), base_url=BASE)
        sign_in(client, key)
        first = client.get("/ui/?label=team:a,b&label=env:ci")
        more = re.search(r'<a rel="next" href="([^"]+)"', first.text)
        assert more is not None
        assert "label=team%3Aa%2Cb&amp;label=env%3Aci" in more.group(1)
        second = client.get(html.unescape(more.group(1)))
        assert len(re.findall(r'href="/ui/sessions/(r\d+)"', second.text)) == 5
        storage.close()

    def test_paging_follows_the_cursor(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        first = client.get("/ui/")
        assert first.status_code == 200
        assert "Next page" not in first.text  # three sessions fit one page
        bad = client.get("/ui/?cursor=garbage")
        assert bad.status_code == 400
        assert 'class="error"' in bad.text


class TestSecret:
    """Where the cookie signing secret comes from."""

    def test_workers_of_one_sqlite_file_share_a_secret_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
        database = tmp_path / "s.db"
        first = load_secret(database)
        assert load_secret(database) == first
        secret_file = tmp_path / "s.db.ui-secret"
        assert secret_file.stat().st_mode & 0o777 == 0o600
        assert [path.name for path in tmp_path.iterdir()] == ["s.db.ui-secret"]

    def test_the_environment_wins_and_must_be_long(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(SECRET_ENV, "x" * 40)
        assert load_secret(tmp_path / "s.db") == b"x" * 40
        monkeypatch.setenv(SECRET_ENV, "short")
        with pytest.raises(ValueError, match="at least 32 characters"):
            load_secret(None)

    def test_a_sign_in_expires(self) -> None:
        signer = Signer(b"k" * 32)
        token = signer.sign(session_payload("key", "project", now=1000.0))
        assert read_session(signer, token, now=1000.0 + 60) is not None
        assert read_session(signer, token, now=1000.0 + SESSION_SECONDS) is None
        assert read_session(Signer(b"j" * 32), token, now=1000.0) is None


def test_script_json_cannot_close_the_script_element() -> None:
    encoded = script_json({"text": "</script><!-- & \u2028"})
    assert "<" not in encoded
    assert ">" not in encoded
    assert "&" not in encoded
    assert "\u2028" not in encoded
