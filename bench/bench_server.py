"""Flush server ingest: events per second and upload latency under concurrent clients.

The server (``aiobs.server.app.create_app`` under uvicorn, as ``aiobs server`` runs it) runs in its
own process on 127.0.0.1; client threads in this process post gzipped export documents of 100
events each (80 function events and 20 LLM calls, recorded by the real SDK, each upload a new
session with fresh ids) over keep-alive connections, as the SDK's flush client does. Reported:
events stored per second over the whole run, and the latency of one upload (p50, p99).

Measured in one run: the *HTTP floor* (the same uvicorn + FastAPI stack with an endpoint that
gunzips and parses the body and stores nothing: what any Python ingest server pays), then
``aiobs server`` itself (the command, in its own processes) on SQLite with one worker process and
with ``--workers`` of them, and on PostgreSQL (a throwaway local server, see ``tests/postgres.py``;
skipped with ``--no-postgres``) with ``--workers`` of them. The budget applies to SQLite with
``--workers`` processes.

Usage::

    python bench/bench_server.py            # full run, checks the budget
    python bench/bench_server.py --quick    # a short smoke run, no budget
    python bench/bench_server.py --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, for tests/
from tests.postgres import free_port, temporary_postgres

EVENTS_PER_UPLOAD = 100
BUDGET_EVENTS_PER_SECOND = 20_000  # into SQLite
BUDGET_P99_MS = 50.0  # per upload of 100 events


def template() -> str:
    """One export document of 100 events recorded by the SDK, as JSON text."""
    from aiobs import observe, observer
    from aiobs.exporters import InMemoryExporter

    observer.configure(flush_at_exit=False)

    @observe
    def step(index: int, text: str) -> dict[str, Any]:
        return {"index": index, "words": text.split()}

    @observe
    def handle(request: int) -> int:
        for index in range(3):
            step(index, "a short sentence to keep")
        return request

    observer.observe("bench", labels={"service": "bench", "region": "eu"})
    for request in range(20):
        handle(request)  # 4 function events each
        now = time.time()
        observer._record_event(
            {
                "provider": "openai",
                "api": "chat.completions.create",
                "operation": "chat",
                "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
                "response": {"model": "gpt-4o-mini", "text": "hello"},
                "request_model": "gpt-4o-mini",
                "response_model": "gpt-4o-mini-2024-07-18",
                "usage": {"input_tokens": 25, "output_tokens": 7, "total_tokens": 32},
                "cost": {"input": 3.75e-06, "output": 4.2e-06, "total": 7.95e-06},
                "span_id": secrets.token_hex(8),
                "trace_id": secrets.token_hex(16),
                "started_at": now,
                "ended_at": now + 0.4,
                "duration_ms": 400.0 + request,
            }
        )
    exporter = InMemoryExporter()
    observer.flush(exporter=exporter, include_trace_tree=False)
    observer.reset()
    [data] = exporter.documents
    assert len(data["events"]) + len(data["function_events"]) == EVENTS_PER_UPLOAD
    return json.dumps(data)


_IDS = re.compile(r'"([0-9a-f]{16}|[0-9a-f]{32}|[0-9a-f-]{36})"')


def uploads(text: str, count: int) -> list[bytes]:
    """``count`` gzipped copies of the document, each with fresh session, span and trace ids."""
    bodies = []
    for index in range(count):
        fresh: dict[str, str] = {}
        body = _IDS.sub(lambda match, fresh=fresh: _renewed(match.group(1), fresh), text)
        later = index * 0.5  # uploads follow each other in time, as a program's flushes do
        body = _TIMES.sub(lambda match, later=later: _shifted(match, later), body)
        bodies.append(gzip.compress(body.encode(), 6))
    return bodies


_TIMES = re.compile(r'("(?:started_at|ended_at)": )([0-9.]+)')


def _shifted(match: re.Match[str], seconds: float) -> str:
    return f"{match.group(1)}{float(match.group(2)) + seconds!r}"


def _renewed(old: str, fresh: dict[str, str]) -> str:
    """A new id of the same form for ``old``, the same one each time within one document."""
    if old not in fresh:
        fresh[old] = str(uuid.uuid4()) if "-" in old else secrets.token_hex(len(old) // 2)
    return f'"{fresh[old]}"'


def floor_app() -> Any:
    """The HTTP floor: FastAPI under uvicorn, parsing each upload and storing nothing."""
    from fastapi import FastAPI, Request, Response

    app = FastAPI()

    async def traces(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        json.loads(body)
        return Response(b'{"success":true}', status_code=201, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    app.add_route("/v1/traces", traces, methods=["POST"])
    app.add_route("/health", health, methods=["GET"])
    return app


def serve_floor(port: int) -> None:
    """The HTTP floor's server process."""
    import uvicorn

    uvicorn.run(floor_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(target: str, port: int, workers: int) -> list[str]:
    """The command line of the server for ``target`` (a database URL, or ``floor``)."""
    if target == "floor":
        return [sys.executable, __file__, "--serve-floor", str(port)]
    return [
        *(sys.executable, "-m", "aiobs", "server", "--db", target, "--port", str(port)),
        *("--workers", str(workers), "--log-level", "warning", "--quota", "enterprise=unlimited"),
    ]


@contextmanager
def server(target: str, workers: int = 1) -> Iterator[tuple[int, str]]:
    """Start the server processes for ``target``; yield their port and an API key."""
    key = ""
    if target != "floor":
        from aiobs.server.storage import Quotas, open_storage

        storage = open_storage(target, Quotas(limits={"enterprise": None}))
        key = storage.create_key("enterprise", name="bench").secret
        storage.close()
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": ROOT}
    process = subprocess.Popen(command(target, port, workers), env=environment)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/health")
                connection.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the {target} server did not start") from None
                time.sleep(0.1)
        yield port, key
    finally:
        process.terminate()
        process.wait(timeout=30)


def load(port: int, key: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Post every body from ``clients`` threads; the wall time and each upload's latency (s)."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    shares = [bodies[index::clients] for index in range(clients)]
    start_line = threading.Barrier(clients + 1)

    def client(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        mine = []
        start_line.wait()
        for body in share:
            started = time.perf_counter()
            connection.request("POST", "/v1/traces", body, headers)
            response = connection.getresponse()
            answer = response.read()
            mine.append(time.perf_counter() - started)
            if response.status not in (200, 201):
                with lock:
                    failures.append(f"{response.status} {answer[:200]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} uploads failed, e.g. {failures[0]}")
    return elapsed, latencies


def measure(target: str, workers: int, text: str, count: int, clients: int) -> dict[str, Any]:
    """Events per second and latency percentiles of ``count`` uploads to ``target``."""
    with server(target, workers) as (port, key):
        load(port, key, uploads(text, 4 * clients), clients)  # warm-up
        elapsed, latencies = load(port, key, uploads(text, count), clients)
    latencies.sort()
    cut = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "uploads": count,
        "clients": clients,
        "workers": workers,
        "events_per_second": count * EVENTS_PER_UPLOAD / elapsed,
        "p50_ms": cut[49] * 1000,
        "p99_ms": cut[98] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run, no budget")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this file")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (2)")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--serve-floor", metavar="PORT", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_floor:
        serve_floor(options.serve_floor)
        return 0
    count = 40 if options.quick else 2000
    budgeted = f"SQLite, {options.workers} worker{'s' if options.workers > 1 else ''}"
    text = template()
    results: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="aiobs-bench-"))
        workers = options.workers
        targets = {"HTTP floor (no storage)": ("floor", 1)}
        if workers > 1:
            targets["SQLite, 1 worker"] = (f"sqlite:///{folder}/one.db", 1)
        targets[budgeted] = (f"sqlite:///{folder}/bench.db", workers)
        if not options.no_postgres:
            targets[f"PostgreSQL, {workers} workers"] = (
                stack.enter_context(temporary_postgres()),
                workers,
            )
        for label, (target, processes) in targets.items():
            results[label] = measure(target, processes, text, count, options.clients)
    print(
        f"aiobs flush server ingest: python {results['python']}, cpus {results['cpus']}, "
        f"{options.clients} clients, uploads of {EVENTS_PER_UPLOAD} events (gzip)"
    )
    print(f"{'server':26} {'uploads':>8} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for label in targets:
        row = results[label]
        print(
            f"{label:26} {row['uploads']:8d} {row['events_per_second']:10,.0f} "
            f"{row['p50_ms']:8.1f} {row['p99_ms']:8.1f}"
        )
    if options.json:
        with open(options.json, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=2)
    if options.quick:
        return 0
    sqlite = results[budgeted]
    missed = []
    if sqlite["events_per_second"] < BUDGET_EVENTS_PER_SECOND:
        missed.append(f"SQLite ingest {sqlite['events_per_second']:,.0f} events/s")
    if sqlite["p99_ms"] > BUDGET_P99_MS:
        missed.append(f"SQLite p99 {sqlite['p99_ms']:.1f} ms")
    if missed:
        print("over budget: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
