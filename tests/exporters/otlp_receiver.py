"""A real OTLP/HTTP traces receiver for the exporter tests, and helpers to read what it got."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from aiobs import observer
from aiobs.exporters import ExportResult
from aiobs.exporters.otlp import OTLPExporter

# -- the receiver ----------------------------------------------------------------------------


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    raw_size: int
    request: ExportTraceServiceRequest


@dataclass
class Receiver:
    """A local OTLP/HTTP traces receiver; ``answers`` scripts the next replies (else 200)."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    attempts: int = 0

    @property
    def spans(self) -> list[Span]:
        return [
            span
            for item in self.received
            for resource in item.request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.attempts += 1
            if receiver.answers:
                status, headers, payload = receiver.answers.pop(0)
                self._reply(status, headers, payload)
                return
            if self.path != "/v1/traces":
                self._reply(404, {"Content-Type": "text/plain"}, b"no such path")
                return
            raw = gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body
            request = ExportTraceServiceRequest()
            request.ParseFromString(raw)
            receiver.received.append(
                Received({k.lower(): v for k, v in self.headers.items()}, len(body), request)
            )
            answer = ExportTraceServiceResponse().SerializeToString()
            self._reply(200, {"Content-Type": "application/x-protobuf"}, answer)

        def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real OTLP/HTTP receiver in a thread on 127.0.0.1, stopped after the test."""
    state = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def attrs(span: Any) -> dict[str, Any]:
    """A span's attributes as plain Python values."""
    return {item.key: plain(item.value) for item in span.attributes}


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(item) for item in value.array_value.values]
    return getattr(value, kind)


def by_name(spans: list[Span]) -> dict[str, Span]:
    return {span.name: span for span in spans}


def flush_to(exporter: OTLPExporter) -> ExportResult:
    result = observer.flush(exporter=exporter)
    assert isinstance(result, ExportResult), result
    return result
