"""Recording under threads and asyncio tasks: counts, parents, sessions, flush races, limits."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs.exporters import ExportResult, InMemoryExporter
from tests.helpers import flush_document

WAIT = 30.0
"""Seconds any synchronization point may wait before the test fails instead of hanging."""


@observe
def leaf(thread: int, call: int) -> int:
    return call


@observe
def inner(tag: str, call: int) -> int:
    return call


@observe
def outer(tag: str, call: int) -> int:
    return inner(tag, call)


@observe
async def fetch(tag: str, step: int) -> int:
    await asyncio.sleep(0)
    return step


@observe
async def handle(tag: str, step: int) -> int:
    await asyncio.sleep(0)
    result = await fetch(tag, step)
    await asyncio.sleep(0)
    return result


def run_in_threads(target: Callable[[int], None], count: int) -> None:
    """Run ``target(index)`` in ``count`` threads, join them, and fail on any thread's error."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 4)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    assert errors == []


def call_leaf_from_threads(threads: int, calls: int) -> None:
    """Start ``threads`` threads together, each calling ``leaf(thread, call)`` ``calls`` times."""
    start = threading.Barrier(threads)

    def work(thread: int) -> None:
        start.wait(WAIT)
        for call in range(calls):
            leaf(thread, call)

    run_in_threads(work, threads)


def by_session(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        grouped[event["session_id"]].append(event)
    return grouped


def check_nested(
    events: list[dict[str, Any]], tag: str, outer_name: str, inner_name: str, calls: int
) -> None:
    """``events`` are ``calls`` outer/inner pairs tagged ``tag``, each inner under its outer."""
    assert {event["args"][0] for event in events} == {tag}
    outers = {event["span_id"]: event for event in events if event["name"] == outer_name}
    inners = [event for event in events if event["name"] == inner_name]
    assert len(outers) == calls
    assert len(inners) == calls
    assert len(events) == 2 * calls
    assert all(event["parent_span_id"] is None for event in outers.values())
    assert len({event["trace_id"] for event in outers.values()}) == calls
    for event in inners:
        parent = outers[event["parent_span_id"]]  # KeyError: the parent is not an outer of `tag`
        assert parent["args"] == event["args"]
        assert parent["trace_id"] == event["trace_id"]


@pytest.mark.slow
class TestThreads:
    """Threads recording at once lose, duplicate and misattribute nothing."""

    def test_sixteen_threads_in_the_default_session(self) -> None:
        threads, calls = 16, 5_000
        session_id = observer.observe(session_name="threads")
        call_leaf_from_threads(threads, calls)
        document = flush_document()

        events = document["function_events"]
        assert len(events) == threads * calls
        assert {(event["args"][0], event["args"][1]) for event in events} == set(
            itertools.product(range(threads), range(calls))
        )
        assert len({event["span_id"] for event in events}) == threads * calls
        assert len({event["trace_id"] for event in events}) == threads * calls
        assert {event["parent_span_id"] for event in events} == {None}
        assert {event["session_id"] for event in events} == {session_id}
        assert [session["dropped_events"] for session in document["sessions"]] == [0]

    def test_each_thread_records_into_its_own_session(self) -> None:
        threads, calls = 16, 1_000
        default_id = observer.observe(session_name="default")
        start = threading.Barrier(threads)
        session_ids: dict[int, str] = {}

        def work(thread: int) -> None:
            start.wait(WAIT)
            with observer.session(name=f"t{thread}") as session:
                session_ids[thread] = session.id
                for call in range(calls):
                    outer(f"t{thread}", call)

        run_in_threads(work, threads)
        document = flush_document()

        sessions = {session["id"]: session for session in document["sessions"]}
        assert set(sessions) == {default_id, *session_ids.values()}
        assert all(sessions[session_ids[t]]["name"] == f"t{t}" for t in range(threads))
        assert all(sessions[session_ids[t]]["ended_at"] is not None for t in range(threads))
        grouped = by_session(document["function_events"])
        assert default_id not in grouped
        assert len(document["function_events"]) == 2 * threads * calls
        for thread in range(threads):
            check_nested(grouped[session_ids[thread]], f"t{thread}", "outer", "inner", calls)


class TestAsyncio:
    """Concurrent asyncio tasks each record into their own session with correct parents."""

    @pytest.mark.slow
    def test_a_thousand_tasks_each_in_its_own_session(self) -> None:
        tasks, steps = 1_000, 2
        default_id = observer.observe(session_name="default")

        async def request(number: int) -> str:
            async with observer.session(name=f"r{number}") as session:
                for step in range(steps):
                    assert await handle(f"r{number}", step) == step
                    await asyncio.sleep(0)
                return session.id

        async def main() -> list[str]:
            async with observer.span("server"):  # each request's block starts with no span
                ids = await asyncio.gather(*(request(number) for number in range(tasks)))
            assert observer.current_session() is not None
            assert observer.current_session().id == default_id  # type: ignore[union-attr]
            return ids

        session_ids = asyncio.run(main())
        document = flush_document()

        assert len(set(session_ids)) == tasks
        names = {session["id"]: session["name"] for session in document["sessions"]}
        assert names == {default_id: "default"} | {
            session_id: f"r{number}" for number, session_id in enumerate(session_ids)
        }
        grouped = by_session(document["function_events"])
        assert [event["name"] for event in grouped.pop(default_id)] == ["server"]
        assert len(document["function_events"]) == 2 * tasks * steps + 1
        for number, session_id in enumerate(session_ids):
            check_nested(grouped[session_id], f"r{number}", "handle", "fetch", steps)

    def test_create_task_and_gather_inside_a_span(self) -> None:
        async def main() -> tuple[str, str | None]:
            async with observer.session("fanout") as session:
                async with observer.span("batch") as batch:
                    task = asyncio.create_task(fetch("task", 0))
                    assert await asyncio.gather(fetch("gather", 1), fetch("gather", 2), task) == [
                        1,
                        2,
                        0,
                    ]
                assert await asyncio.create_task(fetch("after", 3)) == 3
                return session.id, batch.span_id

        session_id, batch_id = asyncio.run(main())
        events = flush_document()["function_events"]

        assert {event["session_id"] for event in events} == {session_id}
        [batch] = [event for event in events if event["name"] == "batch"]
        assert (batch["span_id"], batch["kind"], batch["parent_span_id"]) == (
            batch_id,
            "span",
            None,
        )
        children = sorted(
            (event["args"], event["parent_span_id"], event["trace_id"])
            for event in events
            if event["name"] == "fetch" and event["args"][0] != "after"
        )
        trace = batch["trace_id"]
        assert children == [
            (["gather", 1], batch_id, trace),
            (["gather", 2], batch_id, trace),
            (["task", 0], batch_id, trace),
        ]
        [after] = [event for event in events if event["args"] == ["after", 3]]
        assert after["parent_span_id"] is None
        assert after["trace_id"] != trace

    def test_run_in_executor_inside_a_span(self) -> None:
        async def main() -> tuple[str, str | None]:
            loop = asyncio.get_running_loop()
            async with observer.session("executor") as session:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    async with observer.span("offload") as span:
                        results = await asyncio.gather(
                            loop.run_in_executor(pool, leaf, 0, 0),
                            loop.run_in_executor(pool, leaf, 0, 1),
                        )
                        assert results == [0, 1]
            return session.id, span.span_id

        session_id, span_id = asyncio.run(main())
        events = flush_document()["function_events"]
        leaves = [event for event in events if event["name"] == "leaf"]
        assert sorted(event["args"] for event in leaves) == [[0, 0], [0, 1]]
        assert {(event["parent_span_id"], event["session_id"]) for event in leaves} == {
            (span_id, session_id)
        }


def start_and_join(target: Callable[..., Any], *args: Any) -> None:
    thread = threading.Thread(target=target, args=args)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive()


def fan_out() -> None:
    """Run ``leaf`` in a thread, through ``submit`` and through ``map`` (5 calls in all)."""
    start_and_join(leaf, 0, 0)
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert pool.submit(leaf, 1, 0).result(WAIT) == 0
        assert list(pool.map(leaf, [2, 2, 2], [0, 1, 2], timeout=WAIT)) == [0, 1, 2]


FAN_OUT_ARGS = [[0, 0], [1, 0], [2, 0], [2, 1], [2, 2]]


@pytest.fixture(params=["configure", "environment"])
def propagation_off(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Thread propagation switched off by configure() or by the environment read at reset()."""
    if request.param == "configure":
        observer.configure(propagate_to_threads=False)
    else:
        monkeypatch.setenv("AIOBS_PROPAGATE_TO_THREADS", "0")
        observer.reset()
        observer.configure(flush_at_exit=False)
    return str(request.param)


class TestThreadPropagation:
    """Threads and pool work started inside a span are its children, in its session."""

    def test_children_of_the_span_in_a_scoped_session(self) -> None:
        with observer.session("fan-out") as session, observer.span("fan-out") as span:
            fan_out()
        events = flush_document()["function_events"]

        [span_event] = [event for event in events if event["name"] == "fan-out"]
        leaves = [event for event in events if event["name"] == "leaf"]
        assert sorted(event["args"] for event in leaves) == FAN_OUT_ARGS
        assert {
            (event["parent_span_id"], event["trace_id"], event["session_id"]) for event in leaves
        } == {(span.span_id, span_event["trace_id"], session.id)}

    def test_children_of_the_span_in_the_default_session(self) -> None:
        session_id = observer.observe()
        with observer.span("fan-out") as span:
            fan_out()
        events = flush_document()["function_events"]

        [span_event] = [event for event in events if event["name"] == "fan-out"]
        leaves = [event for event in events if event["name"] == "leaf"]
        assert sorted(event["args"] for event in leaves) == FAN_OUT_ARGS
        assert {
            (event["parent_span_id"], event["trace_id"], event["session_id"]) for event in leaves
        } == {(span.span_id, span_event["trace_id"], session_id)}

    def test_thread_subclass_that_overrides_run(self) -> None:
        class Worker(threading.Thread):
            def run(self) -> None:
                leaf(7, 7)

        with observer.session("subclass") as session, observer.span("parent") as span:
            worker = Worker()
            worker.start()
            worker.join(WAIT)
        [event] = [e for e in flush_document()["function_events"] if e["name"] == "leaf"]
        assert (event["parent_span_id"], event["session_id"]) == (span.span_id, session.id)

    def test_off_default_session_children_are_roots(self, propagation_off: str) -> None:
        session_id = observer.observe()
        with observer.span("fan-out") as span:
            fan_out()
        events = flush_document()["function_events"]

        [span_event] = [event for event in events if event["name"] == "fan-out"]
        assert span_event["span_id"] == span.span_id
        leaves = [event for event in events if event["name"] == "leaf"]
        # The default session is process-wide, so the work is still recorded, but as new traces.
        assert sorted(event["args"] for event in leaves) == FAN_OUT_ARGS
        assert {(event["parent_span_id"], event["session_id"]) for event in leaves} == {
            (None, session_id)
        }
        traces = {event["trace_id"] for event in leaves}
        assert len(traces) == len(FAN_OUT_ARGS)
        assert span_event["trace_id"] not in traces

    def test_off_scoped_session_children_are_not_recorded(self, propagation_off: str) -> None:
        seen: list[object] = []
        with observer.session("fan-out"), observer.span("fan-out"):
            fan_out()
            start_and_join(lambda: seen.append(observer.current_session()))
        document = flush_document()

        # The threads have no session at all, so nothing they do is recorded.
        assert [event["name"] for event in document["function_events"]] == ["fan-out"]
        assert seen == [None]

    def test_switching_off_and_on_inside_a_session_takes_effect_at_once(self) -> None:
        with observer.session("switch") as session, observer.span("fan-out") as span:
            observer.configure(propagate_to_threads=False)
            start_and_join(leaf, 0, 0)
            observer.configure(propagate_to_threads=True)
            start_and_join(leaf, 1, 0)
        leaves = [e for e in flush_document()["function_events"] if e["name"] == "leaf"]
        assert [(e["args"], e["parent_span_id"], e["session_id"]) for e in leaves] == [
            ([1, 0], span.span_id, session.id)
        ]

    def test_switching_on_after_starting_off_takes_effect_at_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AIOBS_PROPAGATE_TO_THREADS", "0")
        observer.reset()
        observer.configure(flush_at_exit=False)
        with observer.session("late") as session:
            observer.configure(propagate_to_threads=True)
            with observer.span("fan-out") as span:
                start_and_join(leaf, 0, 0)
        leaves = [e for e in flush_document()["function_events"] if e["name"] == "leaf"]
        assert [(e["parent_span_id"], e["session_id"]) for e in leaves] == [
            (span.span_id, session.id)
        ]

    @pytest.mark.skipif(
        bool(getattr(sys.flags, "thread_inherit_context", 0)),
        reason="this interpreter copies every context variable into new threads itself",
    )
    def test_user_context_variables_are_not_propagated(self) -> None:
        user_var: contextvars.ContextVar[str] = contextvars.ContextVar("user_var", default="unset")
        seen: list[tuple[str, object, str | None]] = []

        def look(_: object = None) -> None:
            seen.append(
                (user_var.get(), observer.current_session(), observer.get_current_span_id())
            )

        token = user_var.set("caller")
        try:
            with observer.session("user-vars") as session, observer.span("fan-out") as span:
                start_and_join(look)
                with ThreadPoolExecutor(max_workers=1) as pool:
                    pool.submit(look).result(WAIT)
                    list(pool.map(look, [0], timeout=WAIT))
        finally:
            user_var.reset(token)
        assert seen == [("unset", session, span.span_id)] * 3

    def test_pool_worker_does_not_keep_the_span_it_was_started_in(self) -> None:
        observer.observe()
        with ThreadPoolExecutor(max_workers=1) as pool:
            with observer.span("first") as first:
                pool.submit(leaf, 0, 0).result(WAIT)  # starts the pool's only worker thread
            pool.submit(leaf, 1, 0).result(WAIT)  # submitted with no span current
        leaves = {
            tuple(e["args"]): e["parent_span_id"]
            for e in flush_document()["function_events"]
            if e["name"] == "leaf"
        }
        assert leaves == {(0, 0): first.span_id, (1, 0): None}

    def test_pool_worker_does_not_keep_the_session_it_was_started_in(self) -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            with observer.session("first"):
                pool.submit(leaf, 0, 0).result(WAIT)  # starts the pool's only worker thread
            pool.submit(leaf, 1, 0).result(WAIT)  # no session is current here
        assert [e["args"] for e in flush_document()["function_events"]] == [[0, 0]]


class HoldingExporter(InMemoryExporter):
    """Keeps each document, then holds the first export open until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.exporting = threading.Event()
        self.release = threading.Event()

    def export_document(self, document: Any, **kwargs: Any) -> ExportResult:
        result = super().export_document(document, **kwargs)
        if not self.exporting.is_set():
            self.exporting.set()
            assert self.release.wait(WAIT), "recorders did not record during the export"
        return result


@pytest.mark.slow
class TestFlushRacingRecording:
    """Flushes that run while threads record export every event exactly once."""

    def test_repeated_flushes_while_threads_record(self) -> None:
        recorders, half = 4, 5_000
        after_snapshot = 200  # calls each recorder makes while the first export is held open
        observer.observe(session_name="race")
        holding, working, failing = (
            HoldingExporter(),
            InMemoryExporter(),
            InMemoryExporter(fail=True),
        )
        halfway = threading.Barrier(recorders + 1)
        recorded_meanwhile = [threading.Event() for _ in range(recorders)]
        finished = [threading.Event() for _ in range(recorders)]

        def record(thread: int) -> None:
            for call in range(half):
                leaf(thread, call)
            halfway.wait(WAIT)
            assert holding.exporting.wait(WAIT)
            for call in range(half, 2 * half):
                leaf(thread, call)
                if call == half + after_snapshot:
                    recorded_meanwhile[thread].set()
            finished[thread].set()

        def release_when_all_recorded() -> None:
            for event in recorded_meanwhile:
                assert event.wait(WAIT)
            holding.release.set()

        recorder_threads = threading.Thread(target=run_in_threads, args=(record, recorders))
        recorder_threads.start()
        halfway.wait(WAIT)
        releaser = threading.Thread(target=release_when_all_recorded)
        releaser.start()
        held = observer.flush(exporter=holding)
        releaser.join(WAIT)
        flushes = 0
        while not all(event.is_set() for event in finished):
            result = observer.flush(exporter=failing if flushes % 2 else working)
            assert isinstance(result, ExportResult)
            assert result.success is not bool(flushes % 2)
            flushes += 1
        recorder_threads.join(WAIT * 4)
        assert not recorder_threads.is_alive()
        observer.flush(exporter=working)

        assert isinstance(held, ExportResult)
        assert held.success
        # The held export holds exactly what was buffered when it started: the first halves.
        assert sorted(tuple(event["args"]) for event in holding.function_events) == sorted(
            itertools.product(range(recorders), range(half))
        )
        exported = holding.function_events + working.function_events
        assert len(exported) == recorders * 2 * half
        assert len({event["span_id"] for event in exported}) == len(exported)
        assert {tuple(event["args"]) for event in exported} == set(
            itertools.product(range(recorders), range(2 * half))
        )
        assert failing.documents == []
        assert observer.buffered_events == 0

    def test_sessions_ending_while_flushes_run(self) -> None:
        recorders, blocks, calls = 4, 10, 500
        done = threading.Event()

        def record(thread: int) -> None:
            for block in range(blocks):
                with observer.session(name=f"t{thread}-b{block}"):
                    for call in range(calls):
                        outer(f"t{thread}-b{block}", call)

        def record_then_signal() -> None:
            try:
                run_in_threads(record, recorders)
            finally:
                done.set()

        exporter = InMemoryExporter()
        recorder_threads = threading.Thread(target=record_then_signal)
        recorder_threads.start()
        while not done.is_set():
            observer.flush(exporter=exporter)
        recorder_threads.join(WAIT)
        observer.flush(exporter=exporter)

        events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in exporter.function_events:
            events[event["args"][0]].append(event)
        names = {f"t{thread}-b{block}" for thread in range(recorders) for block in range(blocks)}
        assert set(events) == names
        for name in names:
            check_nested(events[name], name, "outer", "inner", calls)
        last_seen = {session["name"]: session for session in exporter.sessions}
        assert set(last_seen) == names
        assert all(session["ended_at"] is not None for session in last_seen.values())
        # Every ended session was released: a further flush has nothing to say.
        assert flush_document()["sessions"] == []


class TestLateRecords:
    """A record that reaches a session after it was exported and released is still exported."""

    def test_thread_outliving_its_session_block(self) -> None:
        go = threading.Event()

        def late() -> None:
            assert go.wait(WAIT)
            leaf(1, 1)

        with observer.session("short") as session:
            worker = threading.Thread(target=late)
            worker.start()
            leaf(0, 0)
        first = flush_document()  # exports the ended session and releases it
        go.set()
        worker.join(WAIT)
        second = flush_document()
        third = flush_document()

        assert [(e["args"], e["session_id"]) for e in first["function_events"]] == [
            ([0, 0], session.id)
        ]
        assert [(e["args"], e["session_id"]) for e in second["function_events"]] == [
            ([1, 1], session.id)
        ]
        assert [s["id"] for s in second["sessions"]] == [session.id]
        assert second["sessions"][0]["ended_at"] == first["sessions"][0]["ended_at"]
        assert (third["sessions"], third["function_events"]) == ([], [])


def dropped(document: dict[str, Any]) -> dict[str, int]:
    return {session["name"]: session["dropped_events"] for session in document["sessions"]}


class TestBufferLimit:
    """Past max_buffered_events further events are dropped and counted, exactly."""

    def test_150_calls_keep_the_first_100_and_count_50(self) -> None:
        observer.configure(max_buffered_events=100)
        observer.observe(session_name="bounded")
        for call in range(150):
            assert leaf(0, call) == call  # a dropped event does not affect the call
        assert observer.buffered_events == 100
        document = flush_document()
        assert [event["args"][1] for event in document["function_events"]] == list(range(100))
        assert dropped(document) == {"bounded": 50}

    def test_recording_resumes_after_a_flush(self) -> None:
        observer.configure(max_buffered_events=100)
        observer.observe(session_name="bounded")
        for call in range(150):
            leaf(0, call)
        flush_document()
        for call in range(101):
            leaf(1, call)
        document = flush_document()
        assert [event["args"] for event in document["function_events"]] == [
            [1, call] for call in range(100)
        ]
        assert dropped(document) == {"bounded": 51}  # a running total, as documented

    def test_the_limit_is_shared_by_all_sessions(self) -> None:
        observer.configure(max_buffered_events=100)
        with observer.session("first"):
            for call in range(60):
                leaf(0, call)
        with observer.session("second"):
            for call in range(60):
                leaf(1, call)
        document = flush_document()
        assert Counter(event["args"][0] for event in document["function_events"]) == {0: 60, 1: 40}
        assert dropped(document) == {"first": 0, "second": 20}

    def test_a_failed_export_frees_no_place(self) -> None:
        observer.configure(max_buffered_events=100)
        observer.observe(session_name="bounded")
        for call in range(100):
            leaf(0, call)
        assert not observer.flush(exporter=InMemoryExporter(fail=True)).success  # type: ignore[union-attr]
        for call in range(10):
            leaf(1, call)
        document = flush_document()
        assert [event["args"] for event in document["function_events"]] == [
            [0, call] for call in range(100)
        ]
        assert dropped(document) == {"bounded": 10}

    def test_lowering_the_limit_below_the_buffer(self) -> None:
        observer.observe(session_name="bounded")
        for call in range(80):
            leaf(0, call)
        observer.configure(max_buffered_events=50)
        leaf(1, 0)
        document = flush_document()
        assert len(document["function_events"]) == 80
        assert dropped(document) == {"bounded": 1}
        for call in range(51):
            leaf(2, call)
        document = flush_document()
        assert len(document["function_events"]) == 50
        assert dropped(document) == {"bounded": 2}

    @pytest.mark.slow
    def test_nothing_lost_or_duplicated_under_eight_threads(self) -> None:
        threads, calls = 8, 2_000
        observer.configure(max_buffered_events=100)
        observer.observe(session_name="bounded")
        call_leaf_from_threads(threads, calls)
        document = flush_document()
        kept = document["function_events"]
        assert len(kept) == 100
        assert len(kept) + dropped(document)["bounded"] == threads * calls
        assert len({event["span_id"] for event in kept}) == len(kept)
        assert len({tuple(event["args"]) for event in kept}) == len(kept)
        # Single-threaded again: exactly 100 more fit after the flush.
        for call in range(101):
            leaf(threads, call)
        document = flush_document()
        assert [event["args"][1] for event in document["function_events"]] == list(range(100))
        assert dropped(document)["bounded"] == threads * calls - len(kept) + 1

    @pytest.mark.slow
    def test_limit_is_exact_under_eight_threads(self) -> None:
        threads, calls, rounds = 8, 2_000, 50
        previous = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads often, so that a round meets the race
        try:
            for _ in range(rounds):
                observer.reset()
                observer.configure(flush_at_exit=False, max_buffered_events=100)
                observer.observe(session_name="bounded")
                call_leaf_from_threads(threads, calls)
                document = flush_document()
                kept = len(document["function_events"])
                assert (kept, dropped(document)["bounded"]) == (100, threads * calls - 100)
        finally:
            sys.setswitchinterval(previous)
