"""The sessions query answers the same whichever way it finds the sessions.

A filtered page either walks the project's sessions newest first, testing each, or starts from
the sessions one filter names (``session_sets``). Here a seeded database of two projects is asked
every filter and some of their combinations, page by page, both ways (``SMALL_SET`` forced to 0
or to a size no set reaches), and each answer is compared with the sessions picked out of the
uploaded documents in Python. Walking, SQLite first tries the newest ``WALK_WINDOW`` sessions and
starts from the smallest set when they hold less than a page: a window of 5 makes it do that
here. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from aiobs.server.storage import NewKey, SQLStorage, open_storage, session_sets
from aiobs.server.storage.base import NewScore, ScoreFilter, SessionQuery
from tests.server.app_fixtures import document, function_event, llm_event, session

WORDS = ("invoice", "refund", "parcel", "zanzibar", "ledger", "orange")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-haiku")
PROVIDERS = ("openai", "anthropic")


@dataclass
class Seeded:
    """What one session was given, to pick the expected answers from."""

    project: str
    id: str
    started_at: float
    labels: dict[str, str]
    models: set[str] = field(default_factory=set)
    providers: set[str] = field(default_factory=set)
    failed: bool = False
    texts: list[set[str]] = field(default_factory=list)
    scores: list[tuple[str, float | bool | str]] = field(default_factory=list)


def _call(rng: random.Random, seeded: Seeded, at: float) -> dict[str, Any]:
    model = rng.choice(MODELS)
    provider = "anthropic" if model.startswith("claude") else "openai"
    failed = rng.random() < 0.05
    event = llm_event(seeded.id, model=model, provider=provider, started_at=at)
    if rng.random() < 0.2:  # asked for one model, answered by another
        event["request_model"] = rng.choice(MODELS)
        event["request"]["model"] = event["request_model"]
        seeded.models.add(event["request_model"])
    words = rng.sample(WORDS, rng.randint(0, 2)) if rng.random() < 0.9 else ["zanzibar"]
    event["request"]["messages"] = [{"role": "user", "content": " ".join(["hello", *words])}]
    event["response"]["text"] = "fine"
    if failed:
        event["error"] = "RateLimitError: slow down"
    seeded.models.add(model)
    seeded.providers.add(provider)
    seeded.failed |= failed
    seeded.texts.append({"hello", "fine", *words})
    return event


@pytest.fixture(scope="module")
def seeded_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SQLStorage, dict[str, NewKey], list[Seeded]]]:
    """Two projects of 120 sessions; some sessions share an id, some come in two uploads."""
    dialect = request.param
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sets') / 'sets.db'}"
    else:
        url = request.getfixturevalue("postgres_server").fresh_database()
    store = open_storage(url)
    assert isinstance(store, SQLStorage)
    rng = random.Random(13)
    keys = {"a": store.create_key("enterprise"), "b": store.create_key("enterprise")}
    seeded: list[Seeded] = []
    for name, key in keys.items():
        runs, calls, steps, later = [], [], [], []
        for number in range(120):
            at = 1_767_225_600.0 + rng.randrange(60) * 10.0  # many share a start time
            session_id = f"shared-{number}" if number % 4 == 0 else f"{name}-{number}"
            labels = {"env": rng.choice(["prod", "dev"])}
            if rng.random() < 0.1:
                labels["team"] = "red"
            one = Seeded(key.record.project_id, session_id, at, labels)
            calls += [_call(rng, one, at + 0.1 * i) for i in range(rng.randint(0, 3))]
            # about half the sessions, almost none of them calling anthropic: with
            # provider=anthropic, two large sets with almost nothing in common
            labels["half"] = "x" if number == 7 or "anthropic" not in one.providers else "y"
            run = session(f"{name}{number}", started_at=at, labels=labels, session_id=session_id)
            runs.append(run)
            steps.append(function_event(session_id, started_at=at))
            one.texts.append({"1", "2"})  # the function's argument and result
            if number % 5 == 0:
                later.append(_call(rng, one, at + 1.0))
            seeded.append(one)
        store.ingest(key.record, document(runs, calls, steps), None)
        second = {event["session_id"] for event in later}
        store.ingest(
            key.record,
            document([run for run in runs if run["id"] in second], later, []),
            None,
        )
        new = []
        for one in seeded:
            if one.project != key.record.project_id:
                continue
            chosen: list[tuple[str, float | bool | str]] = []
            if rng.random() < 0.6:
                chosen.append(("quality", round(rng.random(), 2)))
            if rng.random() < 0.1:
                chosen.append(("flagged", rng.random() < 0.5))
            if rng.random() < 0.5:
                chosen.append(("tone", rng.choice(["calm", "curt"])))
            one.scores += chosen
            new += [NewScore(one.id, score, value) for score, value in chosen]
        store.add_scores(key.record.project_id, new)
    yield store, keys, seeded
    store.close()


def expected(seeded: list[Seeded], project: str, query: SessionQuery) -> list[str]:
    """The ids ``query`` picks, newest first (then by id), chosen here in Python."""
    words = (query.search or "").lower().split()
    picked = [
        one
        for one in seeded
        if one.project == project
        and all(one.labels.get(k) == v for k, v in query.labels.items())
        and (query.model is None or query.model in one.models)
        and (query.provider is None or query.provider in one.providers)
        and (query.has_errors is None or query.has_errors == one.failed)
        and (query.search is None or any(set(words) <= text for text in one.texts))
        and all(any(_scored(wanted, *score) for score in one.scores) for wanted in query.scores)
    ]
    picked.sort(key=lambda one: (-one.started_at, one.id))
    return [one.id for one in picked]


def _scored(wanted: ScoreFilter, name: str, value: float | bool | str) -> bool:
    """Whether a score ``name`` of ``value`` matches ``wanted``."""
    if name != wanted.name:
        return False
    if wanted.op is None:
        return True
    if wanted.op in ("true", "false"):
        return isinstance(value, bool) and value == (wanted.op == "true")
    if wanted.op == "=":
        return isinstance(value, str) and value == wanted.category
    if isinstance(value, (bool, str)):
        return False
    assert wanted.number is not None
    return {
        "<": value < wanted.number,
        "<=": value <= wanted.number,
        ">": value > wanted.number,
        ">=": value >= wanted.number,
    }[wanted.op]


def every_page(store: SQLStorage, project: str, query: SessionQuery) -> list[str]:
    """The ids of every page of ``query``, 7 to a page, following ``next_cursor``."""
    ids: list[str] = []
    cursor = None
    while True:
        page = store.sessions(
            project,
            dataclasses.replace(query, limit=7, cursor=cursor),
        )
        assert len(page.sessions) <= 7
        ids += [summary["id"] for summary in page.sessions]
        cursor = page.next_cursor
        if cursor is None:
            return ids


QUERIES = [
    SessionQuery(),
    SessionQuery(labels={"env": "prod"}),
    SessionQuery(labels={"env": "prod", "team": "red"}),
    SessionQuery(labels={"env": "nowhere"}),
    SessionQuery(model="gpt-4o"),
    SessionQuery(model="claude-3-5-haiku"),
    SessionQuery(model="no-such-model"),
    SessionQuery(provider="anthropic"),
    SessionQuery(provider="openai", model="claude-3-5-haiku"),
    SessionQuery(has_errors=True),
    SessionQuery(has_errors=False),
    SessionQuery(has_errors=True, model="gpt-4o-mini", labels={"env": "dev"}),
    SessionQuery(search="invoice"),
    SessionQuery(search="zanzibar"),
    SessionQuery(search="INVOICE refund"),
    SessionQuery(search="hello"),
    SessionQuery(search="absent"),
    SessionQuery(search="invoice", has_errors=False, provider="openai"),
    SessionQuery(search="refund", labels={"env": "dev"}, model="gpt-4o"),
    SessionQuery(search="parcel", has_errors=True),
    SessionQuery(provider="anthropic", labels={"half": "x"}),
    SessionQuery(provider="anthropic", labels={"half": "x", "env": "prod"}, has_errors=False),
    SessionQuery(search="hello", labels={"half": "x"}, model="claude-3-5-haiku"),
    SessionQuery(scores=(ScoreFilter("quality", "<", 0.5),)),
    SessionQuery(
        scores=(ScoreFilter("quality", ">=", 0.5), ScoreFilter("tone", "=", None, "curt"))
    ),
    SessionQuery(scores=(ScoreFilter("flagged", "true"),), labels={"env": "prod"}),
    SessionQuery(scores=(ScoreFilter("flagged"),), provider="openai"),
    SessionQuery(scores=(ScoreFilter("quality", "<=", 0.1),), search="hello"),
    SessionQuery(scores=(ScoreFilter("no-such-score"),)),
]


@pytest.mark.parametrize("seeded_store", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("small_set", "window"),
    [(0, session_sets.WALK_WINDOW), (0, 5), (10**9, session_sets.WALK_WINDOW)],
    ids=["walking", "walking a window first", "starting from a set"],
)
@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_every_page_holds_what_the_filters_pick(
    seeded_store: tuple[SQLStorage, dict[str, NewKey], list[Seeded]],
    small_set: int,
    window: int,
    query: SessionQuery,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, keys, seeded = seeded_store
    monkeypatch.setattr(session_sets, "SMALL_SET", small_set)
    monkeypatch.setattr(session_sets, "WALK_WINDOW", window)
    for key in keys.values():
        project = key.record.project_id
        assert every_page(store, project, query) == expected(seeded, project, query)


@pytest.mark.parametrize("seeded_store", ["sqlite"], indirect=True)
def test_the_seeded_answers_are_not_trivial(
    seeded_store: tuple[SQLStorage, dict[str, NewKey], list[Seeded]],
) -> None:
    """Each filter of the comparison picks some sessions and leaves out others."""
    _, keys, seeded = seeded_store
    project = keys["a"].record.project_id
    everything = len(expected(seeded, project, SessionQuery()))
    for query in QUERIES[1:]:
        picked = len(expected(seeded, project, query))
        assert picked < everything, query
    for query in (QUERIES[1], QUERIES[4], QUERIES[7], QUERIES[9], QUERIES[12], QUERIES[13]):
        assert expected(seeded, project, query), query
    for query in QUERIES[23:27]:
        assert expected(seeded, project, query), query
    # the nearly-disjoint pair: each about half the sessions, together very few
    half = len(expected(seeded, project, SessionQuery(labels={"half": "x"})))
    anthropic = len(expected(seeded, project, SessionQuery(provider="anthropic")))
    both = len(expected(seeded, project, QUERIES[20]))
    assert min(half, anthropic) > everything // 4, (half, anthropic)
    assert 0 < both <= everything // 10, both


@pytest.mark.parametrize("small_set", [0, 10**9], ids=["walking", "starting from a set"])
def test_a_word_only_another_project_said_never_matches(
    storage: SQLStorage, small_set: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions with the same id in both projects: only the asking project's text counts."""
    monkeypatch.setattr(session_sets, "SMALL_SET", small_set)
    mine, theirs = storage.create_key("enterprise"), storage.create_key("enterprise")
    for number in range(30):
        for key, word in ((mine, "apples"), (theirs, "quetzalcoatl")):
            run = session(f"{word}{number}", session_id=f"same-{number}")
            said = llm_event(run["id"])
            said["request"]["messages"] = [{"role": "user", "content": f"{word} and more"}]
            storage.ingest(key.record, document([run], [said]), None)
    assert every_page(storage, mine.record.project_id, SessionQuery(search="quetzalcoatl")) == []
    assert every_page(storage, theirs.record.project_id, SessionQuery(search="apples")) == []
    for key in (mine, theirs):
        found = every_page(storage, key.record.project_id, SessionQuery(search="more"))
        assert sorted(found) == sorted(f"same-{number}" for number in range(30))
