"""W3C Trace Context ids: random trace ids per root, random-looking span ids, one set of ids."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

import itertools

from aiobs import _ids, observe, observer
from aiobs.exporters import CompositeExporter, InMemoryExporter
from aiobs.exporters.otlp import OTLPExporter
from aiobs.providers.call import LLMCall
from tests.exporters.otlp_receiver import Receiver


@observe
def leaf(x: int) -> int:
    return x


@observe
def root(x: int) -> int:
    return leaf(x)


def flush_both(receiver: Receiver) -> dict[str, Any]:
    """Flush once to an in-memory exporter and to the receiver; the aiobs document."""
    memory = InMemoryExporter()
    observer.flush(exporter=CompositeExporter([memory, OTLPExporter(endpoint=receiver.url)]))
    [document] = memory.documents
    return document


class TestTraceIds:
    """A root span draws a random 128-bit trace id; its descendants share it."""

    def test_trace_id_is_not_derived_from_the_root_span_id(self) -> None:
        observer.observe()
        for x in range(20):
            root(x)
        memory = InMemoryExporter()
        observer.flush(exporter=memory)
        roots = [e for e in memory.documents[0]["function_events"] if e["name"] == "root"]
        assert len(roots) == 20
        traces = {event["trace_id"] for event in roots}
        assert len(traces) == 20
        for event in roots:
            assert len(event["trace_id"]) == 32
            assert event["trace_id"] != event["span_id"].rjust(32, "0")
        # the high 64 bits are random too, not zero padding
        assert any(trace[:16] != "0" * 16 for trace in traces)
        assert len({trace[:16] for trace in traces}) == 20

    def test_an_llm_call_as_root_gets_a_random_trace(self) -> None:
        observer.observe()
        call = LLMCall.start("openai", "chat.completions.create", {"model": "m"}, model="m")
        assert call is not None
        call.finish(response={"text": "ok"})
        memory = InMemoryExporter()
        observer.flush(exporter=memory)
        [event] = memory.documents[0]["events"]
        assert event["trace_id"] != event["span_id"].rjust(32, "0")
        assert event["trace_id"][:16] != "0" * 16

    def test_span_block_as_root_gets_a_random_trace(self) -> None:
        observer.observe()
        with observer.span("block"):
            leaf(1)
        memory = InMemoryExporter()
        observer.flush(exporter=memory)
        events = {e["name"]: e for e in memory.documents[0]["function_events"]}
        block = events["block"]
        assert block["trace_id"] != block["span_id"].rjust(32, "0")
        assert events["leaf"]["trace_id"] == block["trace_id"]


class TestSpanIds:
    """Span ids look random, are never zero and never repeat within a process."""

    def test_ids_are_distinct_non_zero_and_not_sequential(self) -> None:
        ids = [_ids.new_span_id() for _ in range(100_000)]
        assert len(set(ids)) == len(ids)
        assert all(0 < value < 2**64 for value in ids)
        steps = {b - a for a, b in itertools.pairwise(ids)}
        assert 1 not in steps
        assert ids != sorted(ids)
        # both halves of the id vary: nothing is left as a constant prefix
        assert len({value >> 48 for value in ids[:1000]}) > 900

    def test_a_sequence_reaches_zero_only_after_2_to_the_63_ids(self) -> None:
        inverse = pow(_ids._WEYL_STEP, -1, 2**64)
        for _ in range(50):
            sequence = _ids._span_id_sequence()
            start = sequence()
            zero_at = -start * inverse % 2**64
            assert zero_at >= 2**63

    def test_a_forked_child_draws_a_new_sequence(self) -> None:
        before = _ids.new_span_id
        _ids._reseed_after_fork()
        try:
            assert _ids.new_span_id is not before
            first = _ids.new_span_id()
            assert first != before()
        finally:
            _ids.reset()


class TestSameIdsEverywhere:
    """The ids in aiobs's JSON document are the ids of the exported OpenTelemetry spans."""

    def test_document_and_otlp_carry_the_same_ids(self, receiver: Receiver) -> None:
        observer.observe()
        root(1)
        document = flush_both(receiver)
        exported = {
            (span.span_id.hex(), span.trace_id.hex(), span.parent_span_id.hex() or None)
            for span in receiver.spans
        }
        recorded = {
            (event["span_id"], event["trace_id"], event["parent_span_id"])
            for event in document["function_events"]
        }
        assert exported == recorded
        assert len(recorded) == 2
