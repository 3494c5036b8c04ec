"""A real Arize Phoenix, started for the end-to-end OpenTelemetry tests and stopped after them.

Phoenix is large, so it lives in a virtual environment of its own (``make test-otel`` builds
``.venv-phoenix`` from ``requirements/phoenix.lock``). Without it these tests are skipped, unless
``AIOBS_REQUIRE_PHOENIX=1`` (set by ``make test-otel``) makes that a failure. ``AIOBS_PHOENIX``
names another ``phoenix`` executable.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 240.0  # seconds; Phoenix starts in about 40 s on a busy two-core machine


@dataclass
class Phoenix:
    """A running Phoenix: its base URL and its REST API."""

    url: str
    log: Path

    @property
    def traces_url(self) -> str:
        return f"{self.url}/v1/traces"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as answer:
            return json.load(answer)

    def spans(self, project: str, expected: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The project's spans, once ``expected`` of them are in (ingestion is not instant)."""
        deadline = time.monotonic() + timeout
        spans: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                spans = self.get(f"/v1/projects/{project}/spans?limit=1000")["data"]
            except urllib.error.HTTPError as error:
                if error.code != 404:  # the project appears with its first span
                    raise
            if len(spans) >= expected:
                return spans
            time.sleep(0.5)
        return spans

    def graphql(self, query: str) -> Any:
        """The ``data`` of a GraphQL query to Phoenix (its UI's API; cost is only there)."""
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            found = json.load(answer)
        assert not found.get("errors"), found["errors"]
        return found["data"]

    def _project(self, name: str, fields: str) -> dict[str, Any]:
        data = self.graphql(f"{{ projects {{ edges {{ node {{ name {fields} }} }} }} }}")
        [project] = [e["node"] for e in data["projects"]["edges"] if e["node"]["name"] == name]
        return project

    def span_costs(self, project: str) -> dict[str, dict[str, float | None] | None]:
        """Phoenix's cost of each span of the project (prompt, completion, total), by span id."""
        fields = (
            "spans(first: 1000) { edges { node { context { spanId } costSummary {"
            " prompt { cost } completion { cost } total { cost } } } } }"
        )
        costs: dict[str, dict[str, float | None] | None] = {}
        for edge in self._project(project, fields)["spans"]["edges"]:
            summary = edge["node"]["costSummary"]
            costs[edge["node"]["context"]["spanId"]] = (
                None if summary is None else {k: v["cost"] for k, v in summary.items()}
            )
        return costs

    def project_cost(self, project: str) -> float | None:
        """The project's total cost as Phoenix sums it."""
        found = self._project(project, "costSummary { total { cost } }")
        cost: float | None = found["costSummary"]["total"]["cost"]
        return cost


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _executable() -> Path | None:
    configured = os.environ.get("AIOBS_PHOENIX")
    candidate = Path(configured) if configured else ROOT / ".venv-phoenix" / "bin" / "phoenix"
    return candidate if candidate.exists() else None


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    """A Phoenix server on 127.0.0.1 with its own working directory, telemetry off."""
    executable = _executable()
    if executable is None:
        if os.environ.get("AIOBS_REQUIRE_PHOENIX") == "1":
            pytest.fail("Phoenix is not installed: run `make test-otel`")
        pytest.skip("Phoenix is not installed (make test-otel installs it into .venv-phoenix)")
    workdir = tmp_path_factory.mktemp("phoenix")
    port = _free_port()
    environment = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(_free_port()),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    log = workdir / "phoenix.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(executable), "serve"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Phoenix(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"Phoenix exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                server.get("/v1/projects")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"Phoenix did not start in time:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
