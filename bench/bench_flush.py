"""Flush throughput for 10,000 and 100,000 events: file, gzip, JSON Lines, flush server.

Each measurement records the events (``@observe`` calls with small arguments) and then times one
flush to the destination; the median of several repeats is reported as microseconds per event
and the bytes written (compressed, where the destination compresses). The flush server is a
minimal local implementation of the protocol (``POST /v1/traces`` storing the gunzipped body,
``POST /v1/usage``) on 127.0.0.1, so its figure includes gzip, HTTP on loopback and the server's
own parsing.

Usage::

    python bench/bench_flush.py            # full run
    python bench/bench_flush.py --quick    # small sizes, for the smoke test
    python bench/bench_flush.py --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiobs import observe, observer
from aiobs.exporters import BaseExporter, ExportResult, FileExporter
from aiobs.exporters.remote import RemoteExporter


@observe
def work(a: int, b: str, c: float = 0.0) -> int:
    return a


@contextmanager
def flush_server() -> Iterator[str]:
    """A local flush server that accepts every upload; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/v1/traces":
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                json.loads(body)
                answer = b'{"success": true}'
            else:
                usage = {"tier": "pro", "traces_used": 1, "traces_limit": 10**9}
                usage |= {"traces_remaining": 10**9, "is_rate_limited": False}
                answer = json.dumps({"success": True, "usage": usage}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def time_flush(events: int, exporter: BaseExporter) -> tuple[float, int]:
    """Seconds for one flush of ``events`` freshly recorded events, and the bytes written."""
    observer.reset()
    observer.configure(flush_at_exit=False, max_buffered_events=max(events, 100_000))
    observer.observe("bench")
    for index in range(events):
        work(index, "text", c=1.5)
    start = time.perf_counter()
    result = observer.flush(exporter=exporter)
    elapsed = time.perf_counter() - start
    if not isinstance(result, ExportResult) or not result.success:
        raise RuntimeError(f"flush failed: {result!r}")
    return elapsed, result.bytes_written or 0


def destinations(directory: str, url: str) -> dict[str, Callable[[], BaseExporter]]:
    """Fresh exporters, one factory per destination."""
    return {
        "file (JSON)": lambda: FileExporter(os.path.join(directory, "run.json")),
        "file (JSON, gzip)": lambda: FileExporter(os.path.join(directory, "run.json.gz")),
        "file (JSON Lines)": lambda: FileExporter(
            os.path.join(directory, f"run-{time.perf_counter_ns()}.jsonl")
        ),
        "flush server": lambda: RemoteExporter(url, "aiobs_sk_bench"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this file")
    options = parser.parse_args()
    sizes, repeats = ((1_000,), 2) if options.quick else ((10_000, 100_000), 5)
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as directory, flush_server() as url:
        for name, make in destinations(directory, url).items():
            results[name] = {}
            for size in sizes:
                runs = [time_flush(size, make()) for _ in range(repeats)]
                seconds = statistics.median(run[0] for run in runs)
                written = statistics.median(run[1] for run in runs)
                results[name][str(size)] = {
                    "us_per_event": round(seconds / size * 1e6, 2),
                    "bytes": int(written),
                }
    observer.reset()
    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "repeats": repeats}
    print("aiobs flush benchmark:", ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"{'destination':20} {'events':>8} {'µs/event':>9} {'bytes written':>14}")
    for name, by_size in results.items():
        for size, row in by_size.items():
            print(f"{name:20} {size:>8} {row['us_per_event']:9.2f} {row['bytes']:14,}")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump({"info": info, "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
