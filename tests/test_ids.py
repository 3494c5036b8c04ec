"""Span and trace id sources: the C ones (aiobs._speedups) give what the Python ones would."""

from __future__ import annotations

import itertools

import pytest

from aiobs import _ids, _native

speedups = _native.speedups
needs_c = pytest.mark.skipif(speedups is None, reason="aiobs._speedups is not built")

MASK64 = (1 << 64) - 1


def python_sequence(start: int, step: int) -> list[int]:
    sequence = map(MASK64.__and__, itertools.count(start, step)).__next__
    return [sequence() for _ in range(1000)]


@needs_c
class TestSpanIdsInC:
    @pytest.mark.parametrize(
        ("start", "step"),
        [(0, 1), (MASK64 - 3, 1), (12345, _ids._WEYL_STEP), (MASK64, MASK64)],
    )
    def test_same_sequence_as_python_with_the_wrap_at_2_to_the_64(
        self, start: int, step: int
    ) -> None:
        assert speedups is not None
        sequence = speedups.SpanIds(start, step)
        assert [sequence() for _ in range(1000)] == python_sequence(start, step)

    def test_the_default_source_is_the_c_one(self) -> None:
        assert speedups is not None
        assert type(_ids._span_id_sequence()) is speedups.SpanIds

    def test_bad_use_is_a_clear_error(self) -> None:
        assert speedups is not None
        with pytest.raises(TypeError, match="takes no arguments"):
            speedups.SpanIds(1, 1)(5)
        with pytest.raises(OverflowError):
            speedups.SpanIds(-1, 1)


@needs_c
class TestTraceIdsInC:
    def test_random_128_bit_non_zero_and_distinct(self) -> None:
        assert speedups is not None
        source = speedups.TraceIds(1, 2, 3, 4)
        ids = [source() for _ in range(100_000)]
        assert len(set(ids)) == len(ids)
        assert all(0 < value < 2**128 for value in ids)
        # every bit is set in about half of the ids
        for bit in (0, 1, 63, 64, 65, 126, 127):
            share = sum(value >> bit & 1 for value in ids) / len(ids)
            assert 0.48 < share < 0.52, bit

    def test_same_seed_same_ids_other_seed_other_ids(self) -> None:
        assert speedups is not None
        a, b, c = (speedups.TraceIds(*seed) for seed in ((9, 8, 7, 6), (9, 8, 7, 6), (9, 8, 7, 5)))
        first = [a() for _ in range(10)]
        assert first == [b() for _ in range(10)]
        assert first != [c() for _ in range(10)]

    def test_an_all_zero_seed_is_refused(self) -> None:
        assert speedups is not None
        with pytest.raises(ValueError, match="not all zero"):
            speedups.TraceIds(0, 0, 0, 0)

    def test_the_default_source_is_the_c_one_and_a_fork_reseeds_it(self) -> None:
        assert speedups is not None
        assert type(_ids.new_trace_id) is speedups.TraceIds
        before = _ids.new_trace_id
        _ids._reseed_after_fork()
        try:
            assert _ids.new_trace_id is not before
            assert type(_ids.new_trace_id) is speedups.TraceIds
            assert {_ids.new_trace_id() for _ in range(100)}.isdisjoint(
                {before() for _ in range(100)}
            )
        finally:
            _ids.reset()


def test_the_python_trace_ids_are_random_128_bit_and_non_zero() -> None:
    ids = [_ids._python_trace_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(0 < value < 2**128 for value in ids)


def test_a_test_clock_and_counters_replace_the_c_sources() -> None:
    """configure() swaps the sources; the C wrapper of @observe calls what is configured."""
    from aiobs import observe, observer
    from aiobs.exporters import InMemoryExporter
    from aiobs.testing import deterministic

    fn = observe(lambda: 1)
    memory = InMemoryExporter()
    with deterministic():
        observer.observe(session_name="counters")
        fn()
        fn()
        observer.flush(exporter=memory)
    events = memory.documents[-1]["function_events"]
    assert [e["span_id"] for e in events] == ["0000000000000001", "0000000000000002"]
    assert all(e["trace_id"].startswith("0000") for e in events)
