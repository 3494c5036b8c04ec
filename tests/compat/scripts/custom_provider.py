"""A custom provider written for aiobs 0.2: a BaseProvider subclass recording with _record_event.

It instruments a stand-in LLM client, is installed by hand (``provider.install(observer)``, as 0.2
documents), records dicts and ``Event`` models, and is undone with the function it returns. The
flushed file is reported without its ids and times (parents are named by their function).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import _compat

from aiobs import BaseProvider, observe, observer
from aiobs.collector import Collector
from aiobs.models import Callsite, Event

Collector._validate_api_key = lambda self: None  # type: ignore[method-assign]
Collector._record_usage = lambda self, trace_count: None  # type: ignore[method-assign]
Collector._flush_to_server = lambda self, export: None  # type: ignore[method-assign]


class Client:
    """The SDK being instrumented."""

    def complete(self, prompt: str, temperature: float = 0.0) -> str:
        if prompt == "boom":
            raise RuntimeError("the model is down")
        return f"echo: {prompt} ({temperature})"


class EchoProvider(BaseProvider):
    name = "echo"

    @classmethod
    def is_available(cls) -> bool:
        return True

    def install(self, collector: Any) -> Any:
        original = Client.complete

        def complete(client: Client, prompt: str, temperature: float = 0.0) -> str:
            started = time.time()
            answer, error = None, None
            try:
                answer = original(client, prompt, temperature)
                return answer
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                ended = time.time()
                collector._record_event(
                    {
                        "provider": self.name,
                        "api": "complete",
                        "request": {"prompt": prompt, "temperature": temperature},
                        "response": None if answer is None else {"text": answer},
                        "error": error,
                        "started_at": started,
                        "ended_at": ended,
                        "duration_ms": (ended - started) * 1000,
                        "parent_span_id": collector.get_current_span_id(),
                    }
                )

        Client.complete = complete  # type: ignore[method-assign]
        return lambda: setattr(Client, "complete", original)


@observe
def agent(question: str) -> str:
    return Client().complete(question, temperature=0.5)


def main() -> None:
    observer.observe(session_name="custom", api_key="aiobs_sk_test")
    provider = EchoProvider()
    unpatch = provider.install(observer)
    agent("hi")
    Client().complete("direct")
    with contextlib.suppress(RuntimeError):
        Client().complete("boom")
    observer._record_event(
        Event(
            provider="echo",
            api="embed",
            request={"input": "x"},
            response={"dims": 3},
            started_at=1700000000.0,
            ended_at=1700000000.25,
            duration_ms=250.0,
            callsite=Callsite(file="app.py", line=3, function="main"),
        )
    )
    unpatch()
    Client().complete("after")
    observer.end()
    path = observer.flush("out.json")
    document = json.loads(Path(str(path)).read_text(encoding="utf-8"))
    names = {e["span_id"]: e["name"] for e in document["function_events"] if e.get("span_id")}
    kept = ("provider", "api", "request", "response", "error", "callsite")
    _compat.report(
        available=EchoProvider.is_available(),
        provider_name=provider.name,
        sessions=[(s["name"], s["ended_at"] is not None) for s in document["sessions"]],
        events=[
            {
                **{key: event.get(key) for key in kept},
                "parent": names.get(event.get("parent_span_id"), event.get("parent_span_id")),
            }
            for event in document["events"]
        ],
        function_events=[
            {key: event.get(key) for key in ("name", "api", "args", "result", "error")}
            for event in document["function_events"]
        ],
        tree=[
            [node.get("api"), [child.get("api") for child in node.get("children", [])]]
            for node in document["trace_tree"]
        ],
    )


main()
