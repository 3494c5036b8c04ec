"""Time aiobs adds to LLM provider calls, against the bare clients and OpenTelemetry's instrumentor.

The headline figure is measured end to end, as a program feels it: the real ``openai``,
``anthropic`` and ``google-genai`` SDKs over an in-process mock transport (canned wire-format
bodies, no sockets, so the SDK's own work is what a call costs), in blocks of 20 calls that
alternate, round after round, between the bare client, aiobs recording, and (for OpenAI)
OpenTelemetry's ``opentelemetry-instrumentation-openai-v2`` with the SDK's tracer provider, a
simple span processor and an exporter that drops spans (message content capture on, as aiobs
captures content). Each block is timed in process CPU time; what a variant adds is its block minus
the bare block of the same round, and the medians and quartiles of those differences over the
rounds are reported. Two untimed calls follow every switch of variant (installing or removing a
patch changes a class, and the interpreter re-warms its caches for the SDK's code once, which a
program that instruments once never pays again). aiobs's buffered events are discarded every 20
rounds, as a flush would.
Workloads: an OpenAI chat call; OpenAI streamed calls of 10 and 100 chunks (the time added per
chunk is the slope between the two, so per-call costs cancel out); an Anthropic message; a Gemini
``generate_content`` call.

Next to it, the breakdown in isolation:

* memory retained per buffered LLM event (``tracemalloc``) and garbage-collector passes per
  1,000 calls, bare and recorded;
* aiobs's wrapper around a stand-in for the SDK method that returns an already parsed
  ``ChatCompletion`` (the SDK's HTTP and parsing work, and its noise, left out);
* 200 parsed ``ChatCompletionChunk`` objects iterated bare and through aiobs's recording iterator
  and chat accumulator (the SDK's own per-chunk parsing costs a hundred times more, so the
  end-to-end slope is the noisier of the two).

Usage::

    python bench/bench_providers.py            # full run, checks the budgets, exit 1 if one fails
    python bench/bench_providers.py --quick    # a few seconds, no budget check (smoke test)
    python bench/bench_providers.py --json out.json   # also write the figures as JSON
    python bench/bench_providers.py --rounds 600      # more rounds of the end-to-end harness
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \
        --dump-after=functools_reduce --callgrind-out-file=cg.out \
        python bench/bench_providers.py --callgrind 200   # instructions per call

Budgets (exit status 1 when one is missed): end to end, aiobs adds at most 30 µs per chat call
(median), at least 4 times less than OpenTelemetry's openai-v2 instrumentor in the same run, and
at most 1 µs per stream chunk (isolated; the end-to-end slope is reported next to it).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

BUDGET_ADDED_US_PER_CALL = 30.0  # end to end, median of a chat call
BUDGET_OTEL_RATIO = 4.0  # OpenTelemetry openai-v2 adds at least this many times more
BUDGET_ADDED_US_PER_CHUNK = 1.0
SMALL_STREAM, LARGE_STREAM = 10, 200  # the isolated per-chunk measure
E2E_SMALL_STREAM, E2E_LARGE_STREAM = 10, 100  # the end-to-end per-chunk slope
KNOWN_US = 12.0  # CPU µs of pure Python the calibration variant adds to each chat call
BLOCK = 20  # calls per timed block (streams of E2E_LARGE_STREAM chunks: BLOCK // 10)
DISCARD_EVERY = 20  # rounds between discarding aiobs's buffered events
SETTLE = 2  # untimed calls after switching variants, before a timed block

MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Summarize the plot of Hamlet in one sentence."},
]


# -- the mock transport -------------------------------------------------------------------------


def _completion_body() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "A prince avenges his father."},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 25, "completion_tokens": 7, "total_tokens": 32},
        }
    ).encode()


def _stream_body(chunks: int) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    parts = [chunk({"role": "assistant", "content": ""}, None)]
    parts += [chunk({"content": f"w{index} "}, None) for index in range(chunks - 2)]
    parts.append(chunk({}, "stop"))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def make_client() -> Any:
    """An OpenAI client whose requests are answered in process by canned wire-format bodies."""
    import openai

    http = _http_module()
    bodies = {
        False: _completion_body(),
        **{size: _stream_body(size) for size in {SMALL_STREAM, LARGE_STREAM, E2E_LARGE_STREAM}},
    }

    def handler(request: Any) -> Any:
        payload = json.loads(request.content)
        if not payload.get("stream"):
            return http.Response(200, content=bodies[False], headers=_JSON)
        size = int(payload["metadata"]["chunks"])
        return http.Response(200, content=bodies[size], headers=_SSE)

    transport = http.MockTransport(handler)
    return openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        http_client=http.Client(transport=transport),
        max_retries=0,
    )


_JSON = {"content-type": "application/json"}
_SSE = {"content-type": "text/event-stream"}


def _http_module() -> Any:
    """The HTTP library the installed openai uses (httpx2 from openai 3, httpx before)."""
    import openai._base_client as base

    return getattr(base, "httpx2", None) or getattr(base, "httpx")  # noqa: B009


# -- the variants ---------------------------------------------------------------------------------


def plain_call(client: Any) -> Callable[[], Any]:
    def run() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    return run


def stream_call(client: Any, chunks: int) -> Callable[[], Any]:
    def run() -> Any:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, metadata={"chunks": str(chunks)}
        )
        for _ in stream:
            pass

    return run


def anthropic_call() -> Callable[[], Any] | None:
    """An Anthropic ``messages.create`` over the mock transport (``None`` without the SDK)."""
    try:
        import anthropic
    except ImportError:
        return None
    http = _http_module()
    body = json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [{"type": "text", "text": "A prince avenges his father."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 7},
        }
    ).encode()

    def handler(_request: Any) -> Any:
        return http.Response(200, content=body, headers=_JSON)

    client = anthropic.Anthropic(
        api_key="bench",
        base_url="http://bench.invalid",
        http_client=http.Client(transport=http.MockTransport(handler)),
        max_retries=0,
    )

    def run() -> Any:
        return client.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=64, messages=MESSAGES[1:]
        )

    return run


def gemini_call() -> Callable[[], Any] | None:
    """A Gemini ``models.generate_content`` over the mock transport (``None`` without the SDK)."""
    try:
        from google import genai
        from google.genai import types
    except ImportError:
        return None
    http = _http_module()
    body = json.dumps(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [{"text": "A prince avenges his father."}],
                        "role": "model",
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 25,
                "candidatesTokenCount": 7,
                "totalTokenCount": 32,
            },
            "modelVersion": "gemini-2.0-flash",
        }
    ).encode()

    def handler(_request: Any) -> Any:
        return http.Response(200, content=body, headers=_JSON)

    client = genai.Client(
        api_key="bench",
        http_options=types.HttpOptions(
            base_url="http://bench.invalid",
            httpx_client=http.Client(transport=http.MockTransport(handler)),
        ),
    )

    def run() -> Any:
        return client.models.generate_content(
            model="gemini-2.0-flash", contents="Summarize the plot of Hamlet in one sentence."
        )

    return run


def _otel_instrumentor() -> tuple[Callable[[], None], Callable[[], None]] | None:
    try:
        from opentelemetry.instrumentation.openai_v2 import (
            OpenAIInstrumentor,
        )
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            SimpleSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError:
        return None

    class DropSpans(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:  # noqa: ARG002 - drops them
            return SpanExportResult.SUCCESS

    # "true" turns content capture on in the instrumentor's default (legacy semantic conventions)
    # path; the shared GenAI helper it also loads only knows the newer values and warns.
    os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    logging.getLogger("opentelemetry.util.genai.utils").setLevel(logging.ERROR)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(DropSpans()))
    instrumentor = OpenAIInstrumentor()

    def enter() -> None:
        instrumentor.instrument(tracer_provider=provider)

    def leave() -> None:
        instrumentor.uninstrument()

    return enter, leave


# -- measuring ------------------------------------------------------------------------------------


def time_per_run(run: Callable[[], Any], repeats: int) -> float:
    """Seconds per run, over ``repeats`` runs."""
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def cpu_us_per_call(run: Callable[[], Any], calls: int, settle: int = SETTLE) -> float:
    """Process CPU microseconds per run, over ``calls`` runs (a neighbour's load is not counted).

    ``settle`` untimed runs go first: installing or removing a patch changes a class, and the
    interpreter's caches for the SDK's code re-warm over the next call or two, a cost a program
    that instruments once never pays again.
    """
    for _ in range(settle):
        run()
    start = time.process_time_ns()
    for _ in range(calls):
        run()
    return (time.process_time_ns() - start) / calls / 1e3


def _known_cost() -> tuple[Callable[[], None], Callable[[], None], float]:
    """The calibration variant: a wrapper on ``Completions.create`` that burns ``KNOWN_US``.

    It is installed and removed around each block as aiobs is, and its loop's cost alone is
    measured, so the harness's figure for it shows how the harness reports a known added cost.
    Returns the installer, the remover and the loop's CPU µs measured alone.
    """
    from openai.resources.chat.completions import Completions

    original = Completions.create
    loops = 1000
    while True:  # find how many iterations take KNOWN_US
        start = time.process_time_ns()
        total = 0
        for index in range(loops * 20):
            total += index
        per_loop = (time.process_time_ns() - start) / 20 / 1000 / loops
        if per_loop * loops * 20 > 20_000:  # at least 20 ms measured
            break
        loops *= 2
    count = [max(int(KNOWN_US / per_loop), 1)]

    def burn() -> int:
        total = 0
        for index in range(count[0]):
            total += index
        return total

    for _ in range(2):  # the loop inside a function costs a little differently: adjust to it
        count[0] = max(int(count[0] * KNOWN_US / cpu_us_per_call(burn, 5_000)), 1)

    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        burn()
        return original(self, *args, **kwargs)

    def install() -> None:
        Completions.create = create  # type: ignore[method-assign]

    def remove() -> None:
        Completions.create = original  # type: ignore[method-assign]

    alone = cpu_us_per_call(burn, 5_000)
    return install, remove, alone


class Workload:
    """Calls of one kind, and the instrumentations that can record them."""

    def __init__(
        self, name: str, run: Callable[[], Any], provider: str, calls: int, otel: bool
    ) -> None:
        self.name = name
        self.run = run
        self.provider = provider
        self.calls = calls
        self.otel = otel


def workloads() -> list[Workload]:
    """The end-to-end calls, for the SDKs that are installed."""
    client = make_client()
    found = [
        Workload("openai chat", plain_call(client), "openai", BLOCK, otel=True),
        Workload(
            f"openai stream {E2E_SMALL_STREAM}",
            stream_call(client, E2E_SMALL_STREAM),
            "openai",
            BLOCK,
            otel=True,
        ),
        Workload(
            f"openai stream {E2E_LARGE_STREAM}",
            stream_call(client, E2E_LARGE_STREAM),
            "openai",
            BLOCK // 10,
            otel=True,
        ),
    ]
    anthropic = anthropic_call()
    if anthropic is not None:
        found.append(Workload("anthropic message", anthropic, "anthropic", BLOCK, otel=False))
    gemini = gemini_call()
    if gemini is not None:
        found.append(Workload("gemini generate", gemini, "gemini", BLOCK, otel=False))
    return found


def end_to_end(rounds: int) -> tuple[dict[str, dict[str, list[float]]], float]:
    """Per round, the CPU µs per call each variant adds to each workload (its block - bare).

    Every round times one block of each workload bare, recorded by aiobs and (OpenAI only)
    under OpenTelemetry's instrumentor; which of bare and aiobs goes first alternates by round.
    The chat call also gets a block with aiobs instrumented and no session (``idle``), and one
    with the calibration wrapper (``known``, :func:`_known_cost`).
    aiobs records into one session that is ended and discarded every ``DISCARD_EVERY`` rounds.
    """
    from aiobs import observer
    from aiobs.exporters import InMemoryExporter

    chosen = workloads()
    otel = _otel_instrumentor()
    added: dict[str, dict[str, list[float]]] = {
        work.name: {"bare_us": [], "aiobs": [], "idle": [], "otel": [], "known": []}
        for work in chosen
    }
    known_install, known_remove, known_alone = _known_cost()

    def known_block(work: Workload) -> float:
        known_install()
        try:
            return cpu_us_per_call(work.run, work.calls)
        finally:
            known_remove()

    def aiobs_block(work: Workload) -> float:
        observer.instrument(work.provider)
        try:
            return cpu_us_per_call(work.run, work.calls)
        finally:
            observer.uninstrument(work.provider)

    def idle_block(work: Workload) -> float:  # instrumented, no session: the pass-through
        observer.end()
        observer.instrument(work.provider)
        try:
            return cpu_us_per_call(work.run, work.calls)
        finally:
            observer.uninstrument(work.provider)
            observer.observe("bench")

    def otel_block(work: Workload) -> float:
        assert otel is not None
        otel[0]()
        try:
            return cpu_us_per_call(work.run, work.calls)
        finally:
            otel[1]()

    for work in chosen:  # warm the SDKs' caches (models, validators) in every configuration
        cpu_us_per_call(work.run, 20)
        aiobs_block(work)
        if otel is not None and work.otel:
            otel_block(work)
    observer.observe("bench")
    try:
        for index in range(rounds):
            for work in chosen:
                if index % 2:
                    recorded = aiobs_block(work)
                    bare = cpu_us_per_call(work.run, work.calls)
                else:
                    bare = cpu_us_per_call(work.run, work.calls)
                    recorded = aiobs_block(work)
                row = added[work.name]
                row["bare_us"].append(bare)
                row["aiobs"].append(recorded - bare)
                if otel is not None and work.otel:
                    row["otel"].append(otel_block(work) - bare)
                if work is chosen[0]:
                    row["idle"].append(idle_block(work) - bare)
                    row["known"].append(known_block(work) - bare)
            if index % DISCARD_EVERY == DISCARD_EVERY - 1:
                observer.end()
                observer.flush(exporter=InMemoryExporter())
                observer.observe("bench")
    finally:
        observer.end()
        observer.flush(exporter=InMemoryExporter())
    return added, known_alone


def quartiles(values: list[float]) -> dict[str, float]:
    """Median and quartiles, rounded to 0.1."""
    if len(values) < 2:
        value = round(values[0], 1) if values else float("nan")
        return {"median": value, "q1": value, "q3": value}
    q1, median, q3 = statistics.quantiles(values, n=4)
    return {"median": round(median, 1), "q1": round(q1, 1), "q3": round(q3, 1)}


def summarize(added: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Medians and quartiles per workload and variant, and the per-chunk slope of streams."""
    rows: dict[str, Any] = {}
    for name, by_variant in added.items():
        rows[name] = {
            variant: quartiles(values) for variant, values in by_variant.items() if values
        }
    small = added.get(f"openai stream {E2E_SMALL_STREAM}")
    large = added.get(f"openai stream {E2E_LARGE_STREAM}")
    if small and large:
        span = E2E_LARGE_STREAM - E2E_SMALL_STREAM
        for variant in ("aiobs", "otel"):
            if small[variant] and large[variant]:
                slopes = [
                    (big - little) / span
                    for big, little in zip(large[variant], small[variant], strict=True)
                ]
                q1, median, q3 = statistics.quantiles(slopes, n=4)
                rows.setdefault("per chunk", {})[variant] = {
                    "median": round(median, 3),
                    "q1": round(q1, 3),
                    "q3": round(q3, 3),
                }
    return rows


def by_variant(chat: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The chat call's median CPU µs per call under each variant, and what each adds."""
    bare = chat["bare_us"]["median"]
    rows = {"bare": {"plain_us": bare, "added_plain_us": 0.0}}
    for key, variant in (
        ("idle", "aiobs, no session"),
        ("aiobs", "aiobs recording"),
        ("otel", "OpenTelemetry openai-v2"),
    ):
        if key in chat:
            added = chat[key]["median"]
            rows[variant] = {"plain_us": round(bare + added, 1), "added_plain_us": added}
    return rows


# -- memory and the garbage collector ---------------------------------------------------------


def retained_per_event(events: int) -> dict[str, float]:
    """Memory and tracked objects that one buffered OpenAI chat event keeps until the flush."""
    from aiobs import observer
    from aiobs.exporters import InMemoryExporter

    client = make_client()
    run = plain_call(client)
    observer.instrument("openai")
    observer.observe("bench-memory")
    try:
        for _ in range(20):
            run()
        observer.flush(exporter=InMemoryExporter())
        gc.collect()
        tracked = len(gc.get_objects())
        for _ in range(events):
            run()
        gc.collect()
        tracked = len(gc.get_objects()) - tracked
        observer.flush(exporter=InMemoryExporter())
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for _ in range(events):
            run()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        observer.end()
        observer.flush(exporter=InMemoryExporter())
        observer.uninstrument("openai")
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return {
        "bytes_per_event": round(grown / events),
        "tracked_objects_per_event": round(tracked / events, 2),
    }


def gc_passes(calls: int) -> dict[str, list[int]]:
    """Collections of each generation per ``calls`` OpenAI chat calls, bare and recorded."""
    from aiobs import observer
    from aiobs.exporters import InMemoryExporter

    run = plain_call(make_client())

    def passes() -> list[int]:
        gc.collect()
        before = [generation["collections"] for generation in gc.get_stats()]
        for _ in range(calls):
            run()
        return [
            generation["collections"] - was
            for generation, was in zip(gc.get_stats(), before, strict=True)
        ]

    bare = passes()
    observer.instrument("openai")
    observer.observe("bench-gc")
    try:
        recorded = passes()
    finally:
        observer.end()
        observer.flush(exporter=InMemoryExporter())
        observer.uninstrument("openai")
    return {"bare": bare, "aiobs": recorded}


def isolated_call_cost(rounds: int, repeats: int) -> dict[str, float]:
    """Microseconds aiobs's wrapper adds to one chat call, the SDK's own work left out."""
    from openai.types.chat import ChatCompletion

    from aiobs import observer
    from aiobs.exporters import InMemoryExporter
    from aiobs.providers.openai import CHAT_CREATE, recorded

    observer.instrument("openai")  # loads the SDK types the wrapper checks results against
    completion = ChatCompletion.model_validate_json(_completion_body())

    def sdk_method(self: object, **kwargs: Any) -> ChatCompletion:
        return completion

    wrapped = recorded(CHAT_CREATE).wrap_sync(sdk_method)

    def bare() -> None:
        sdk_method(None, model="gpt-4o-mini", messages=MESSAGES)

    def recorded() -> None:
        wrapped(None, model="gpt-4o-mini", messages=MESSAGES)

    observer.observe("bench-calls")
    samples: dict[str, list[float]] = {"bare": [], "recorded": []}
    try:
        for _ in range(rounds):
            samples["bare"].append(time_per_run(bare, repeats * 5))
            samples["recorded"].append(time_per_run(recorded, repeats * 5))
            observer.flush(exporter=InMemoryExporter())
    finally:
        observer.end()
        observer.flush(exporter=InMemoryExporter())
        observer.uninstrument()
    bare_s, recorded_s = (statistics.median(samples[k]) for k in samples)
    return {"added_us_per_call": round((recorded_s - bare_s) * 1e6, 1)}


def isolated_chunk_cost(rounds: int, repeats: int) -> dict[str, float]:
    """Nanoseconds per chunk: bare iteration vs aiobs's recording iterator, SDK parsing excluded."""
    from openai.types.chat import ChatCompletionChunk

    from aiobs import observer
    from aiobs.exporters import InMemoryExporter
    from aiobs.providers.call import LLMCall
    from aiobs.providers.openai_streams import ChatAccumulator
    from aiobs.providers.streams import record_iterator

    lines = _stream_body(LARGE_STREAM).split(b"\n\n")
    chunks = [
        ChatCompletionChunk.model_validate_json(line[len(b"data: ") :])
        for line in lines
        if line.startswith(b"data: {")
    ]

    def bare() -> None:
        for _ in chunks:
            pass

    def recorded() -> None:
        call = LLMCall.start("openai", "chat.completions.create", {}, model="gpt-4o-mini")
        assert call is not None
        for _ in record_iterator(call, iter(chunks), ChatAccumulator()):
            pass

    def recorded_empty() -> None:  # the per-stream part: open, complete and buffer the event
        call = LLMCall.start("openai", "chat.completions.create", {}, model="gpt-4o-mini")
        assert call is not None
        for _ in record_iterator(call, iter(()), ChatAccumulator()):
            pass

    observer.observe("bench-chunks")
    samples: dict[str, list[float]] = {"bare": [], "recorded": [], "empty": []}
    try:
        for _ in range(rounds):
            samples["bare"].append(time_per_run(bare, repeats))
            samples["recorded"].append(time_per_run(recorded, repeats))
            samples["empty"].append(time_per_run(recorded_empty, repeats))
            observer.flush(exporter=InMemoryExporter())
    finally:
        observer.end()
        observer.flush(exporter=InMemoryExporter())
    bare_s, recorded_s, empty_s = (statistics.median(samples[k]) for k in samples)
    return {
        "chunks": len(chunks),
        "bare_ns_per_chunk": round(bare_s / len(chunks) * 1e9, 1),
        "added_ns_per_chunk": round((recorded_s - empty_s - bare_s) / len(chunks) * 1e9, 1),
        "per_stream_us": round(empty_s * 1e6, 1),
    }


def callgrind_sections(calls: int) -> None:
    """Chat calls bare, then recorded, each run inside one ``functools.reduce`` call.

    Under ``valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce
    --dump-after=functools_reduce`` each section is one dump, whose instruction count divided by
    its calls is what a call costs: deterministic, whatever the machine's load. Dumps 1-4 warm up
    (20 calls each); dumps 5 and 6 are ``calls`` chat calls bare and recorded, dumps 7 and 8
    ``calls // 4`` streamed calls of 10 chunks bare and recorded.
    """
    from aiobs import observer
    from aiobs.exporters import InMemoryExporter

    client = make_client()
    chat, stream = plain_call(client), stream_call(client, E2E_SMALL_STREAM)

    def section(run: Callable[[], Any], count: int, recorded: bool) -> None:
        if recorded:
            observer.instrument("openai")
            observer.observe("bench-callgrind")
        for _ in range(SETTLE):
            run()
        functools.reduce(lambda _done, _index: run(), range(count), None)
        if recorded:
            observer.end()
            observer.flush(exporter=InMemoryExporter())
            observer.uninstrument("openai")
        gc.collect()

    for run in (chat, stream):  # warm the SDK's caches in both configurations
        section(run, 20, recorded=False)
        section(run, 20, recorded=True)
    gc.collect()
    for run, count in ((chat, calls), (stream, calls // 4)):
        section(run, count, recorded=False)
        section(run, count, recorded=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run, no budgets")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    parser.add_argument("--rounds", type=int, help="rounds of the end-to-end harness (300)")
    parser.add_argument(
        "--callgrind",
        type=int,
        metavar="CALLS",
        help="only run the sections for instruction counts under callgrind (see the docs)",
    )
    options = parser.parse_args()
    if options.callgrind:
        callgrind_sections(options.callgrind)
        return 0
    rounds, repeats = (3, 20) if options.quick else (15, 200)
    e2e_rounds = options.rounds or (4 if options.quick else 300)
    os.environ.setdefault("ANTHROPIC_OPEN_TELEMETRY", "false")  # its own spans are not measured
    from aiobs import observer

    observer.configure(flush_at_exit=False)  # what was recorded is measured, not kept

    import openai

    load_before = os.getloadavg()[0]
    added, known_alone = end_to_end(e2e_rounds)
    rows = summarize(added)
    memory = retained_per_event(100 if options.quick else 2_000)
    passes = gc_passes(100 if options.quick else 1_000)
    chunk_cost = isolated_chunk_cost(rounds, repeats)
    call_cost = isolated_call_cost(rounds, repeats)
    info = {
        "python": platform.python_version(),
        "openai": openai.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
        "rounds": e2e_rounds,
        "calls_per_block": BLOCK,
    }
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "info": info,
                    "results": by_variant(rows["openai chat"]),
                    "end_to_end": rows,
                    "known_cost_alone_us": round(known_alone, 1),
                    "memory": memory,
                    "gc_passes_per_1000_calls": passes,
                    "chunks": chunk_cost,
                    "calls": call_cost,
                },
                handle,
                indent=2,
            )
    print("aiobs provider benchmark:", ", ".join(f"{k} {v}" for k, v in info.items()))
    print("end to end, CPU µs per call added (median, quartiles), bare = the call itself:")
    print(
        f"{'workload':22} {'bare':>20} {'aiobs adds':>22} {'openai-v2 adds':>22}"
        f" {'aiobs, no session':>22}"
    )

    def cell(row: dict[str, Any], variant: str, width: int = 22) -> str:
        figures = row.get(variant)
        if figures is None:
            return "-".rjust(width)
        return f"{figures['median']:>8} ({figures['q1']}-{figures['q3']})".rjust(width)

    for name, row in rows.items():
        print(
            f"{name:22} {cell(row, 'bare_us', 20)} {cell(row, 'aiobs')} {cell(row, 'otel')}"
            f" {cell(row, 'idle')}"
        )
    known = rows["openai chat"].get("known")
    if known is not None:
        print(
            f"calibration: a wrapper burning {known_alone:.1f} µs of pure Python (measured alone)"
            f" adds {known['median']} ({known['q1']}-{known['q3']}) µs per chat call here"
        )
    print(
        f"memory retained per buffered chat event: {memory['bytes_per_event']} bytes,"
        f" {memory['tracked_objects_per_event']} objects tracked by the garbage collector"
    )
    print(
        f"garbage-collector passes per 1,000 chat calls (generations 0/1/2): bare"
        f" {passes['bare']}, aiobs recording {passes['aiobs']}"
    )
    print(
        f"isolated, {chunk_cost['chunks']} chunks: bare {chunk_cost['bare_ns_per_chunk']} ns per"
        f" chunk; aiobs adds {chunk_cost['added_ns_per_chunk']} ns per chunk and"
        f" {chunk_cost['per_stream_us']} µs per stream (event opened, completed, buffered)"
    )
    print(
        f"isolated call: aiobs's wrapper adds {call_cost['added_us_per_call']} µs per recorded"
        " chat call (SDK work left out)"
    )
    if options.quick:
        return 0
    failures = []
    chat = rows["openai chat"]
    if chat["aiobs"]["median"] > BUDGET_ADDED_US_PER_CALL:
        failures.append(
            f"end to end, aiobs adds {chat['aiobs']['median']} µs per chat call"
            f" > {BUDGET_ADDED_US_PER_CALL}"
        )
    if "otel" in chat:
        ratio = chat["otel"]["median"] / max(chat["aiobs"]["median"], 0.1)
        print(f"OpenTelemetry openai-v2 adds {ratio:.1f} times what aiobs adds per chat call")
        if ratio < BUDGET_OTEL_RATIO:
            failures.append(f"openai-v2 adds only {ratio:.1f} times aiobs < {BUDGET_OTEL_RATIO}")
    else:
        failures.append("opentelemetry-instrumentation-openai-v2 is not installed: no comparison")
    if chunk_cost["added_ns_per_chunk"] > BUDGET_ADDED_US_PER_CHUNK * 1000:
        failures.append(
            f"added per chunk {chunk_cost['added_ns_per_chunk']} ns > "
            f"{BUDGET_ADDED_US_PER_CHUNK * 1000:.0f}"
        )
    for failure in failures:
        print("BUDGET MISSED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
