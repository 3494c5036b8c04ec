"""The web UI over a large SQLite database: the sessions page, full-text search, a big session.

The data: 100,000 sessions of 10 events each (7 LLM calls, 3 functions; 1,000,000 events), one
project, written through the storage's own ingest path (``Storage.ingest``, 1,000 sessions a
document), plus one session of 10,000 events (100 functions, each the parent of 99 LLM calls).
Prompts and answers are words drawn from a vocabulary of 20,000; one word is planted in 10 % of
the events (``invoice``: a common word), another in 1 event of 50,000 (``zanzibar``: a rare
one). Building it takes a few minutes, so the database is kept under /tmp, its name carrying
:data:`DATA_VERSION` and the schema version; a later run reuses it.

What is measured, against a real ``aiobs server`` process on 127.0.0.1 (one worker):

- server time of UI pages and query API calls: the time of one HTTP request (sent with
  ``http.client`` on a kept-alive connection, with the cookie of a browser sign-in) from the
  request to the last byte of the answer, :data:`REPEATS` times after two warm-up requests;
  p50 and p95. Budgets: the sessions page p95 under 200 ms (first page and filtered pages), a
  full-text search p95 under 500 ms.
- the same searches done as the SQL the storage runs, and the 'without' baseline: the same query
  with ``search_text LIKE '%word%'`` instead of the full-text index (no budget).
- the session of 10,000 events in Chromium (Playwright, Debian's /usr/bin/chromium): from the
  navigation to the first tree node in the DOM, and to the page being ready (the tree built and
  the first node's detail shown, fetched from the server when the page does not hold it), and
  the page's size; then the time from a click on another node to its detail shown;
  :data:`BROWSER_RUNS` times; budget: the median ready time under 1.5 s.

The exit status is 1 when a budget is missed (not with ``--quick``, a small smoke run).

Usage::

    python bench/bench_ui.py             # full run (builds the data once), checks the budgets
    python bench/bench_ui.py --quick     # 2,000 sessions and a 1,000-event session, no budgets
    python bench/bench_ui.py --session-only  # the 10,000-event session alone, in Chromium only
    python bench/bench_ui.py --json out.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, ROOT)  # the checkout, for tests/
from tests.postgres import free_port  # noqa: E402
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

DATA_VERSION = 1
"""Change it when the generated data changes, so that an old database file is not reused."""

SESSIONS = 100_000
EVENTS_PER_SESSION = 10
SESSIONS_PER_DOCUMENT = 1_000
BIG_SESSION_ID = "big-session-10000"
BIG_FUNCTIONS = 100
BIG_CALLS_PER_FUNCTION = 99
COMMON_WORD = "invoice"
RARE_WORD = "zanzibar"
REPEATS = 20
BROWSER_RUNS = 5

BUDGET_PAGE_P95_MS = 200.0
BUDGET_SEARCH_P95_MS = 500.0
BUDGET_BIG_SESSION_S = 1.5

START = 1_767_225_600.0
MODELS = ("gpt-4o-mini", "claude-3-5-haiku")


def vocabulary(rng: random.Random) -> list[str]:
    """20,000 distinct made-up lowercase words."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < 20_000:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))))
    words -= {COMMON_WORD, RARE_WORD}
    return sorted(words)


class Texts:
    """Sentences of random words, with the common and the rare word planted."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        self.count = 0

    def sentence(self, length: int = 12) -> str:
        self.count += 1
        chosen = self.rng.choices(self.words, k=length)
        if self.count % 10 == 0:
            chosen[3] = COMMON_WORD
        if self.count % 50_000 == 7:
            chosen[5] = RARE_WORD
        return " ".join(chosen).capitalize() + "."


def _llm(
    texts: Texts, ids: tuple[str, str, str | None], at: float, *, error: bool, model: str
) -> dict[str, Any]:
    session_id, span, parent = ids
    return {
        "provider": "openai" if model.startswith("gpt") else "anthropic",
        "api": "chat.completions.create",
        "request": {
            "model": model,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": texts.sentence()},
            ],
        },
        "response": None if error else {"text": texts.sentence(), "model": model},
        "error": "RateLimitError: slow down" if error else None,
        "started_at": at,
        "ended_at": at + 0.4,
        "duration_ms": 400.0,
        "span_id": span,
        "parent_span_id": parent,
        "session_id": session_id,
        "request_model": model,
        "response_model": model,
        "usage": {"input_tokens": 120, "output_tokens": 40, "total_tokens": 160},
        "cost": {"input": 0.0001, "output": 0.0001, "total": 0.0002},
    }


def _function(
    texts: Texts, ids: tuple[str, str, str | None], at: float, ms: float
) -> dict[str, Any]:
    session_id, span, parent = ids
    return {
        "provider": "function",
        "api": "app.step",
        "name": "step",
        "module": "app",
        "args": [texts.sentence(8)],
        "kwargs": None,
        "result": texts.sentence(8),
        "error": None,
        "started_at": at,
        "ended_at": at + ms / 1000,
        "duration_ms": ms,
        "span_id": span,
        "parent_span_id": parent,
        "session_id": session_id,
    }


def _document(
    sessions: list[dict[str, Any]], events: list[dict[str, Any]], functions: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "sessions": sessions,
        "events": events,
        "function_events": functions,
        "trace_tree": None,
        "generated_at": START,
        "version": 1,
    }


def session_documents(texts: Texts, sessions: int) -> Iterator[dict[str, Any]]:
    """The small sessions, :data:`SESSIONS_PER_DOCUMENT` to a document, oldest first."""
    for first in range(0, sessions, SESSIONS_PER_DOCUMENT):
        runs, events, functions = [], [], []
        for number in range(first, min(first + SESSIONS_PER_DOCUMENT, sessions)):
            session_id = f"s{number:07d}"
            at = START + number * 10.0
            runs.append(
                {
                    "id": session_id,
                    "name": f"run {number}",
                    "started_at": at,
                    "ended_at": at + 5,
                    "meta": {"pid": 1},
                    "labels": {"env": "prod" if number % 2 else "dev"},
                }
            )
            root = f"{number:08x}f0"
            functions.append(_function(texts, (session_id, root, None), at, 4_000.0))
            functions.extend(
                _function(texts, (session_id, f"{number:08x}f{step}", root), at + step, 900.0)
                for step in (1, 2)
            )
            events.extend(
                _llm(
                    texts,
                    (session_id, f"{number:08x}c{call}", f"{number:08x}f{1 + call % 2}"),
                    at + 1 + call * 0.4,
                    error=number % 100 == 0 and call == 0,
                    model=MODELS[number % 2],
                )
                for call in range(EVENTS_PER_SESSION - 3)
            )
        yield _document(runs, events, functions)


def big_document(texts: Texts, calls_per_function: int) -> dict[str, Any]:
    """The session of :data:`BIG_FUNCTIONS` functions, each the parent of many LLM calls."""
    at = START + SESSIONS * 10.0 + 100
    run = {
        "id": BIG_SESSION_ID,
        "name": "big session",
        "started_at": at,
        "ended_at": at + 600,
        "meta": {"pid": 1},
        "labels": {"env": "prod"},
    }
    events, functions = [], []
    for number in range(BIG_FUNCTIONS):
        parent = f"b{number:05d}"
        start = at + number * 5
        functions.append(_function(texts, (BIG_SESSION_ID, parent, None), start, 5_000.0))
        events.extend(
            _llm(
                texts,
                (BIG_SESSION_ID, f"{parent}c{call:03d}", parent),
                start + call * 0.05,
                error=False,
                model=MODELS[call % 2],
            )
            for call in range(calls_per_function)
        )
    return _document([run], events, functions)


def build(path: Path, sessions: int, calls_per_function: int) -> dict[str, Any]:
    """Write the database at ``path`` (through a temporary file); return its key and counts."""
    from aiobs.server.storage import Quotas, open_storage

    partial = path.with_suffix(".partial")
    for leftover in Path(partial.parent).glob(partial.name + "*"):
        leftover.unlink()
    began = time.perf_counter()
    storage = open_storage(f"sqlite:///{partial}", Quotas(limits={"enterprise": None}))
    key = storage.create_key("enterprise", name="bench-ui")
    texts = Texts(seed=DATA_VERSION)
    events = 0
    for number, document in enumerate(session_documents(texts, sessions)):
        result = storage.ingest(key.record, document, None)
        events += result.events_stored
        if number % 10 == 9:
            print(f"  {events:,} events stored ({time.perf_counter() - began:.0f} s)", flush=True)
    events += storage.ingest(
        key.record, big_document(texts, calls_per_function), None
    ).events_stored
    add_review_scores(storage, key.record.project_id, sessions)
    storage.close()
    seconds = time.perf_counter() - began
    info = {
        "secret": key.secret,
        "sessions": sessions + 1,
        "events": events,
        "build_seconds": round(seconds, 1),
    }
    Path(str(path) + ".json").write_text(json.dumps(info))
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(path)
    return info


REVIEW_SCORE = "bench-review"
REVIEW_EVERY = 5_000
"""Every this many sessions get a :data:`REVIEW_SCORE` (20 of 100,000): a score filter naming
few sessions, which the page should start from rather than walk every session."""


def add_review_scores(storage: Any, project_id: str, sessions: int) -> None:
    """Give every :data:`REVIEW_EVERY`-th small session a numeric score, low for half of them.

    Also run on a database built before the scores existed (``--database``), when it has none.
    """
    from aiobs.server.storage.base import NewScore

    storage.add_scores(
        project_id,
        [
            NewScore(f"s{number:07d}", REVIEW_SCORE, 0.2 if number % (2 * REVIEW_EVERY) else 0.9)
            for number in range(0, sessions, REVIEW_EVERY)
        ],
    )


def database(quick: bool, session_only: bool = False) -> tuple[Path, dict[str, Any]]:
    """The cached database for this data version and schema, built when missing."""
    from aiobs.server.storage.migrations import CURRENT_VERSION

    size = "session" if session_only else "quick" if quick else "full"
    path = Path(f"/tmp/aiobs-bench-ui-v{DATA_VERSION}-schema{CURRENT_VERSION}-{size}.db")
    info_path = Path(str(path) + ".json")
    if path.exists() and info_path.exists():
        info = json.loads(info_path.read_text())
        print(f"reusing {path} ({info['events']:,} events, built in {info['build_seconds']} s)")
        return path, info
    sessions = 0 if session_only else 2_000 if quick else SESSIONS
    calls = 9 if quick and not session_only else BIG_CALLS_PER_FUNCTION
    print(f"building {path}: {sessions:,} sessions of {EVENTS_PER_SESSION} events ...")
    info = build(path, sessions, calls)
    print(f"built in {info['build_seconds']} s")
    return path, info


@contextmanager
def server(path: Path) -> Iterator[int]:
    """``aiobs server`` on the database, in its own process; yield its port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "aiobs",
        "server",
        "--db",
        f"sqlite:///{path}",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/health")
                connection.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def time_requests(port: int, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """Milliseconds of :data:`REPEATS` requests of ``path`` (after two warm-ups)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times = []
    body = b""
    for attempt in range(REPEATS + 2):
        began = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - began) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
        if attempt >= 2:
            times.append(elapsed)
    connection.close()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
        "bytes": len(body),
    }


SEARCH_SQL = (
    "SELECT s.id FROM aiobs_sessions s WHERE s.project_id = ? AND {} "
    "ORDER BY s.started_at DESC, s.id LIMIT 51"
)


def sql_timings(path: Path, project: str) -> dict[str, Any]:
    """The search as the storage runs it (FTS5), and the LIKE baseline, in milliseconds.

    The FTS5 figure is the storage's ``sessions.page`` (its SQL: counting the match, the page
    of 50 and their summaries) on a plain connection; the baseline is the page's query with
    ``search_text LIKE '%word%'`` on the session's events instead of the index.
    """
    from aiobs.server.storage.base import SessionQuery
    from aiobs.server.storage.sessions import page

    connection = sqlite3.connect(path)
    results: dict[str, Any] = {}
    for word in (RARE_WORD, COMMON_WORD):
        like = (
            "EXISTS (SELECT 1 FROM aiobs_events e WHERE e.project_id = s.project_id"
            " AND e.session_id = s.id AND e.search_text LIKE ?)"
        )
        for name in ("fts5", "like"):
            runs = 5 if name == "fts5" else 3
            times, found = [], 0
            for _ in range(runs):
                began = time.perf_counter()
                if name == "fts5":
                    sessions = page(connection.cursor(), project, SessionQuery(search=word))
                    found = len(sessions.sessions)
                else:
                    found = len(
                        connection.execute(
                            SEARCH_SQL.format(like), (project, f"%{word}%")
                        ).fetchall()
                    )
                times.append((time.perf_counter() - began) * 1000)
            results[f"{name} {word}"] = {
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
                "sessions": found,
            }
    connection.close()
    return results


def sign_in(port: int, secret: str) -> str:
    """The cookie header of a sign-in through the form, without a browser."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/ui/signin")
    response = connection.getresponse()
    page = response.read().decode()
    cookies = [response.getheader("Set-Cookie", "").split(";")[0]]
    marker = 'name="csrf" value="'
    csrf = page.split(marker, 1)[1].split('"', 1)[0] if marker in page else ""
    body = f"key={quote(secret)}&csrf={quote(csrf)}"
    connection.request(
        "POST",
        "/ui/signin",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(c for c in cookies if c),
        },
    )
    response = connection.getresponse()
    response.read()
    session = response.getheader("Set-Cookie", "").split(";")[0]
    connection.close()
    if not session:
        raise RuntimeError(f"the sign-in answered {response.status} without a cookie")
    return session


def browser_timings(port: int, secret: str, runs: int) -> tuple[str, dict[str, Any]]:
    """Sign in with Chromium; time the big session's page. Returns the cookie header too."""
    from playwright.sync_api import sync_playwright

    url = f"http://127.0.0.1:{port}"
    first, ready, clicked, nodes, size = [], [], [], 0, 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url + "/ui/signin")
        page.fill("#key", secret)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(url + "/ui/")
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
        for _ in range(runs + 1):  # the first is a warm-up (caches, the script's compilation)
            page.goto("about:blank")
            began = time.perf_counter()
            response = page.goto(url + "/ui/sessions/" + BIG_SESSION_ID, wait_until="commit")
            page.wait_for_selector("#tree li[role=treeitem]", state="attached")
            at_first = time.perf_counter() - began
            page.wait_for_selector("#detail h2", state="attached")
            page.wait_for_function(DETAIL_DRAWN)  # a fetched detail: once it has arrived
            page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
            at_ready = time.perf_counter() - began
            first.append(at_first)
            ready.append(at_ready)
            nodes = page.locator("#tree li[role=treeitem]").count()
            size = len(response.body()) if response is not None else 0
            # another node: the first LLM call under the first function
            began = time.perf_counter()
            page.click("#tree > li:first-child li[role=treeitem] > .row .name")
            page.wait_for_function(DETAIL_DRAWN)
            page.wait_for_selector("#detail .messages", state="attached")
            clicked.append(time.perf_counter() - began)
        browser.close()
    first, ready, clicked = first[1:], ready[1:], clicked[1:]
    return cookie, {
        "first_node_s": [round(value, 3) for value in first],
        "ready_s": [round(value, 3) for value in ready],
        "first_node_median_s": round(statistics.median(first), 3),
        "ready_median_s": round(statistics.median(ready), 3),
        "node_click_s": [round(value, 3) for value in clicked],
        "node_click_median_s": round(statistics.median(clicked), 3),
        "page_bytes": size,
        "tree_items_in_dom": nodes,
    }


DETAIL_DRAWN = "() => !document.getElementById('detail').hasAttribute('aria-busy')"
"""The detail pane is not waiting for a node's detail from the server."""


def session_page_only(path: Path, info: dict[str, Any], json_path: str | None) -> int:
    """Time the 10,000-event session's page in Chromium alone; print (and write) the figures."""
    with server(path) as port:
        figures = {"big_session_browser": browser_timings(port, info["secret"], BROWSER_RUNS)[1]}
    print(json.dumps(figures, indent=2))
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2))
    return 0


def _review_scores_present(path: Path, project: str, sessions: int) -> None:
    """Add the :data:`REVIEW_SCORE` scores to a database built before they were (once)."""
    from aiobs.server.storage import Quotas, open_storage

    connection = sqlite3.connect(path)
    try:
        found = connection.execute(
            "SELECT 1 FROM aiobs_scores WHERE name = ? LIMIT 1", (REVIEW_SCORE,)
        ).fetchone()
    finally:
        connection.close()
    if found is None:
        storage = open_storage(f"sqlite:///{path}", Quotas(limits={"enterprise": None}))
        try:
            add_review_scores(storage, project, sessions)
        finally:
            storage.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run, no budgets")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument(
        "--database",
        type=Path,
        help="use this database file (and its .json beside it) instead of the cached one,"
        " e.g. a copy migrated by another checkout, to compare two versions on the same data",
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="skip the big session in Chromium (its budget is then not checked)",
    )
    parser.add_argument(
        "--session-only",
        action="store_true",
        help="only the 10,000-event session's page in Chromium (a small database of its own)",
    )
    args = parser.parse_args()
    if args.database is not None:
        path = args.database
        info = json.loads(Path(str(path) + ".json").read_text())
    else:
        path, info = database(args.quick, args.session_only)
    if args.session_only:
        return session_page_only(path, info, args.json)
    project = sqlite3.connect(path).execute("SELECT project_id FROM aiobs_keys").fetchone()[0]
    _review_scores_present(path, project, info["sessions"] - 1)
    figures: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "sessions": info["sessions"],
        "events": info["events"],
    }
    with server(path) as port:
        if args.no_browser:
            cookie = sign_in(port, info["secret"])
        else:
            cookie, figures["big_session_browser"] = browser_timings(
                port, info["secret"], BROWSER_RUNS
            )
        ui = {"Cookie": cookie}
        api = {"Authorization": f"Bearer {info['secret']}"}
        requests = {
            "ui first page": ("/ui/", ui),
            "ui label env:prod": ("/ui/?label=env%3Aprod", ui),
            "ui model + errors": ("/ui/?model=claude-3-5-haiku&errors=yes", ui),
            "ui model matching nothing": ("/ui/?model=no-such-model", ui),
            "ui label matching nothing": ("/ui/?label=env%3Astaging", ui),
            "ui errors": ("/ui/?errors=yes", ui),
            "api model": ("/v1/sessions?model=gpt-4o-mini", api),
            "api provider + label, disjoint": ("/v1/sessions?provider=openai&label=env:prod", api),
            "api score, few sessions": (f"/v1/sessions?score={REVIEW_SCORE}:%3C0.5", api),
            "api score + label": (f"/v1/sessions?score={REVIEW_SCORE}&label=env:dev", api),
            "ui second page": (None, ui),
            f"ui search {RARE_WORD}": (f"/ui/?q={RARE_WORD}", ui),
            f"ui search {COMMON_WORD}": (f"/ui/?q={COMMON_WORD}", ui),
            f"api search {RARE_WORD}": (f"/v1/sessions?q={RARE_WORD}", api),
            f"api search {COMMON_WORD}": (f"/v1/sessions?q={COMMON_WORD}", api),
            f"api search {COMMON_WORD} + 1 word": (None, api),
            f"api search {COMMON_WORD} + label": (
                f"/v1/sessions?q={COMMON_WORD}&label=env:dev",
                api,
            ),
        }
        connection = sqlite3.connect(path)
        cursor_row = connection.execute(
            "SELECT started_at, id FROM aiobs_sessions"
            " ORDER BY started_at DESC, id LIMIT 1 OFFSET 49"
        ).fetchone()
        word = (
            connection.execute(
                "SELECT search_text FROM aiobs_events WHERE search_text LIKE ? LIMIT 1",
                (f"%{COMMON_WORD}%",),
            )
            .fetchone()[0]
            .split()[0]
            .lower()
            .strip(".")
        )
        connection.close()
        from aiobs.server.storage.cursors import encode_cursor

        second = "/ui/?cursor=" + quote(encode_cursor(cursor_row[0], cursor_row[1]))
        requests["ui second page"] = (second, ui)
        requests[f"api search {COMMON_WORD} + 1 word"] = (
            f"/v1/sessions?q={COMMON_WORD}+{quote(word)}",
            api,
        )
        figures["requests"] = {}
        for name, (target, headers) in requests.items():
            assert target is not None
            figures["requests"][name] = time_requests(port, target, headers)
            print(f"{name:40s} {figures['requests'][name]}", flush=True)
    figures["sql"] = sql_timings(path, project)
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    if args.quick:
        return 0
    missed = []
    for name, timing in figures["requests"].items():
        budget = BUDGET_SEARCH_P95_MS if "search" in name else BUDGET_PAGE_P95_MS
        if timing["p95_ms"] > budget:
            missed.append(f"{name}: p95 {timing['p95_ms']} ms > {budget} ms")
    ready = figures.get("big_session_browser", {}).get("ready_median_s", 0.0)
    if ready > BUDGET_BIG_SESSION_S:
        missed.append(f"big session ready in {ready} s > {BUDGET_BIG_SESSION_S} s")
    for line in missed:
        print("BUDGET MISSED:", line)
    print("all budgets met" if not missed else f"{len(missed)} budget(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
