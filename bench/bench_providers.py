"""Time aiobs adds to OpenAI calls, against the bare client and OpenTelemetry's instrumentor.

Measures, in one run, ``client.chat.completions.create`` through the real ``openai`` SDK over an
in-process mock transport (no sockets, so the SDK's own work is what the call costs):

* plain calls: bare client; aiobs installed with no session (pass-through); aiobs recording;
  OpenTelemetry's ``opentelemetry-instrumentation-openai-v2`` with the SDK's tracer provider,
  a simple span processor and an exporter that drops spans (message content capture on, as aiobs
  captures content);
* streamed calls of 10 and 200 chunks in the same four variants; the time added per chunk is the
  slope between the two sizes, so per-call costs cancel out;
* the same per-call cost in isolation: aiobs's wrapper around a stand-in for the SDK method that
  returns an already parsed ``ChatCompletion`` (so the SDK's HTTP and parsing work, and its
  noise, are left out);
* the same per-chunk cost in isolation: 200 parsed ``ChatCompletionChunk`` objects iterated bare
  and through aiobs's recording iterator and chat accumulator (the SDK's own per-chunk parsing
  costs over a hundred times more, so the end-to-end slope is dominated by noise).

Usage::

    python bench/bench_providers.py            # full run, checks the budgets, exit 1 if one fails
    python bench/bench_providers.py --quick    # a few seconds, no budget check (smoke test)
    python bench/bench_providers.py --json out.json   # also write the figures as JSON

Variants are interleaved over rounds and medians reported, so a noisy neighbour slows all alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

BUDGET_ADDED_US_PER_CALL = 30.0
BUDGET_ADDED_US_PER_CHUNK = 1.0
SMALL_STREAM, LARGE_STREAM = 10, 200

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
        SMALL_STREAM: _stream_body(SMALL_STREAM),
        LARGE_STREAM: _stream_body(LARGE_STREAM),
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


class Variant:
    """Puts the process in one configuration (bare, aiobs idle/recording, OpenTelemetry)."""

    def __init__(self, name: str, enter: Callable[[], None], leave: Callable[[], None]) -> None:
        self.name = name
        self.enter = enter
        self.leave = leave


def variants() -> list[Variant]:
    from aiobs import observer
    from aiobs.exporters import InMemoryExporter

    def aiobs_idle() -> None:
        observer.instrument("openai")

    def aiobs_recording() -> None:
        observer.instrument("openai")
        observer.observe("bench")

    def aiobs_off() -> None:
        if observer.current_session() is not None:
            observer.end()
            observer.flush(exporter=InMemoryExporter())
        observer.uninstrument()

    otel = _otel_instrumentor()
    found = [
        Variant("bare", lambda: None, lambda: None),
        Variant("aiobs, no session", aiobs_idle, aiobs_off),
        Variant("aiobs recording", aiobs_recording, aiobs_off),
    ]
    if otel is not None:
        found.append(Variant("OpenTelemetry openai-v2", otel[0], otel[1]))
    return found


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

    os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
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


def measure(rounds: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median microseconds per run of each workload under each variant."""
    client = make_client()
    workloads: dict[str, Callable[[], Any]] = {
        "plain": plain_call(client),
        f"stream {SMALL_STREAM}": stream_call(client, SMALL_STREAM),
        f"stream {LARGE_STREAM}": stream_call(client, LARGE_STREAM),
    }
    chosen = variants()
    samples: dict[str, dict[str, list[float]]] = {
        variant.name: {name: [] for name in workloads} for variant in chosen
    }
    for run in workloads.values():  # warm the SDK's caches (models, validators)
        time_per_run(run, 20)
    for _ in range(rounds):
        for variant in chosen:
            variant.enter()
            try:
                for name, run in workloads.items():
                    count = repeats if name == "plain" else max(1, repeats // 5)
                    samples[variant.name][name].append(time_per_run(run, count) * 1e6)
            finally:
                variant.leave()
    return {
        variant: {name: statistics.median(values) for name, values in by_workload.items()}
        for variant, by_workload in samples.items()
    }


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


def summarize(medians: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Added time per call and per chunk of each variant, relative to the bare client."""
    bare = medians["bare"]
    span = LARGE_STREAM - SMALL_STREAM
    small, large = f"stream {SMALL_STREAM}", f"stream {LARGE_STREAM}"
    rows: dict[str, Any] = {}
    for variant, values in medians.items():
        rows[variant] = {
            "plain_us": round(values["plain"], 1),
            "added_plain_us": round(values["plain"] - bare["plain"], 1),
            "stream_small_us": round(values[small], 1),
            "stream_large_us": round(values[large], 1),
            "added_stream_call_us": round(values[small] - bare[small], 1),
            "added_per_chunk_us": round(
                ((values[large] - values[small]) - (bare[large] - bare[small])) / span, 3
            ),
        }
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run, no budgets")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    options = parser.parse_args()
    rounds, repeats = (3, 20) if options.quick else (15, 200)
    from aiobs import observer

    observer.configure(flush_at_exit=False)  # what was recorded is measured, not kept

    import openai

    medians = measure(rounds, repeats)
    rows = summarize(medians)
    chunk_cost = isolated_chunk_cost(rounds, repeats)
    call_cost = isolated_call_cost(rounds, repeats)
    info = {
        "python": platform.python_version(),
        "openai": openai.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "rounds": rounds,
        "calls_per_round": repeats,
    }
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump(
                {"info": info, "results": rows, "chunks": chunk_cost, "calls": call_cost},
                handle,
                indent=2,
            )
    print("aiobs provider benchmark:", ", ".join(f"{k} {v}" for k, v in info.items()))
    header = (
        f"{'variant':26} {'plain µs':>9} {'added':>7} {'stream10':>9} {'stream200':>10}"
        f" {'added/stream':>13} {'added/chunk':>12}"
    )
    print(header)
    for name, row in rows.items():
        print(
            f"{name:26} {row['plain_us']:9.1f} {row['added_plain_us']:7.1f}"
            f" {row['stream_small_us']:9.1f} {row['stream_large_us']:10.1f}"
            f" {row['added_stream_call_us']:13.1f} {row['added_per_chunk_us']:12.3f}"
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
    if call_cost["added_us_per_call"] > BUDGET_ADDED_US_PER_CALL:
        failures.append(
            f"added per call {call_cost['added_us_per_call']} µs > {BUDGET_ADDED_US_PER_CALL}"
        )
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
