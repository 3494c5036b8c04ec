"""Parent and child times agree when they are exported by different flushes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

from aiobs import _ids, observe, observer
from aiobs.exporters import CompositeExporter, InMemoryExporter
from aiobs.exporters.otlp import OTLPExporter
from aiobs.providers.call import LLMCall
from tests.exporters.otlp_receiver import Receiver, by_name

START = 1_700_000_000.0


class DriftingClock:
    """Clocks whose wall time runs 20 ppm fast against the monotonic one, as on a machine whose
    two clocks disagree a little (or during an NTP slew). Each reading advances time by 1 µs."""

    def __init__(self) -> None:
        self.ns = 0

    def monotonic_ns(self) -> int:
        self.ns += 1000
        return self.ns

    def wall(self) -> float:
        self.ns += 1000
        return START + self.ns / 1e9 * (1 + 20e-6)

    def sleep(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


@pytest.fixture
def clock() -> Iterator[DriftingClock]:
    made = DriftingClock()
    _ids.configure(wall=made.wall, monotonic=made.monotonic_ns)
    yield made
    _ids.reset()


def flush_both(receiver: Receiver, memory: InMemoryExporter) -> None:
    observer.flush(exporter=CompositeExporter([memory, OTLPExporter(endpoint=receiver.url)]))


def assert_nested(parent: Any, child: Any) -> None:
    start, end = parent.start_time_unix_nano, parent.end_time_unix_nano
    assert start <= child.start_time_unix_nano, "the child starts before its parent"
    assert child.end_time_unix_nano <= end, "the child ends after its parent"


class TestTimesAcrossFlushes:
    """A parent still open at a flush is exported later; its times still contain its child's."""

    def test_parent_open_across_a_flush(self, receiver: Receiver, clock: DriftingClock) -> None:
        memory = InMemoryExporter()

        @observe
        def child() -> None:
            clock.sleep(0.001)

        @observe
        def parent() -> None:
            child()
            flush_both(receiver, memory)  # the child goes out now, the parent later
            clock.sleep(0.5)
            child()

        observer.observe()
        clock.sleep(60)  # the program ran a while before (600 µs of drift)
        parent()
        flush_both(receiver, memory)
        assert len(receiver.received) == 2
        first, second = (
            [
                span
                for resource in item.request.resource_spans
                for scope in resource.scope_spans
                for span in scope.spans
            ]
            for item in receiver.received
        )
        assert [span.name for span in first] == ["child"]
        spans = by_name(second)
        for early_or_late in (first[0], spans["child"]):
            assert_nested(spans["parent"], early_or_late)
        documents = memory.documents
        [early] = documents[0]["function_events"]
        late = {event["name"]: event for event in documents[1]["function_events"]}
        for child_event in (early, late["child"]):
            assert late["parent"]["started_at"] <= child_event["started_at"]
            assert child_event["ended_at"] <= late["parent"]["ended_at"]

    def test_llm_call_exported_before_its_parent(
        self, receiver: Receiver, clock: DriftingClock
    ) -> None:
        memory = InMemoryExporter()

        @observe
        def parent() -> None:
            call = LLMCall.start("openai", "chat.completions.create", {"model": "m"}, model="m")
            assert call is not None
            clock.sleep(0.002)
            call.finish(response={"text": "ok"})
            flush_both(receiver, memory)
            clock.sleep(0.5)

        observer.observe()
        clock.sleep(60)
        parent()
        flush_both(receiver, memory)
        [call] = [span for span in receiver.spans if span.name == "chat m"]
        [outer] = [span for span in receiver.spans if span.name == "parent"]
        assert_nested(outer, call)

    def test_a_clock_step_is_followed(self) -> None:
        """A wall clock set forward by a minute shows in the spans recorded after the next flush."""
        ticks = itertools.count()
        step = [0.0]
        _ids.configure(
            wall=lambda: START + next(ticks) * 0.001 + step[0],
            monotonic=lambda: next(ticks) * 1_000_000,
        )
        try:
            memory = InMemoryExporter()

            @observe
            def work() -> None:
                pass

            observer.observe()
            work()
            observer.flush(exporter=memory)
            step[0] = 60.0
            work()
            observer.flush(exporter=memory)  # sees the step
            work()
            observer.flush(exporter=memory)
        finally:
            _ids.reset()
        before, _, after = (document["function_events"][0] for document in memory.documents)
        assert after["started_at"] - before["started_at"] > 60
