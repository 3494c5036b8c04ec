"""End to end: a session exported with ``OTLPExporter`` and read back from a real Arize Phoenix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("google.genai")

import anthropic
import openai
from google import genai

from aiobs import observe, observer, providers
from aiobs.exporters import CompositeExporter, InMemoryExporter
from aiobs.exporters.otlp import OTLPExporter
from aiobs.standin import Reply, StandinServer
from tests.otel.conftest import Phoenix

QUESTION = "What is the capital of France?"
SYSTEMS = {
    "chat.completions.create": "Be brief.",
    "responses.create": "Answer in French.",
    "messages.create": "You are terse.",
    "models.generate_content": "Use one word.",
}


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandinServer]:
    """The vendors' stand-in server, with every provider integration installed."""
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    providers.instrument()
    with StandinServer() as server:
        yield server
    providers.uninstrument()
    providers.instrument()


def record_session(server: StandinServer) -> None:
    """Nested functions making an OpenAI chat and Responses call, an Anthropic message, a Gemini
    call and a failing call, with a score on the outer function. The models are ones whose prices
    Phoenix's own table knows, so that it computes each call's cost."""
    chat = openai.OpenAI(base_url=server.openai_url, api_key="sk-test", max_retries=0)
    claude = anthropic.Anthropic(base_url=server.anthropic_url, api_key="x", max_retries=0)
    gemini = genai.Client(api_key="x", http_options={"base_url": server.gemini_url})

    @observe
    def retrieve(question: str) -> list[str]:
        return [question.upper()]

    @observe
    def ask_everyone(question: str) -> str:
        retrieve(question)
        chat.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": SYSTEMS["chat.completions.create"]},
                {"role": "user", "content": question},
            ],
        )
        chat.responses.create(
            model="gpt-4o-mini", instructions=SYSTEMS["responses.create"], input=question
        )
        claude.messages.create(
            model="claude-haiku-4-5",
            max_tokens=50,
            system=SYSTEMS["messages.create"],
            messages=[{"role": "user", "content": question}],
        )
        gemini.models.generate_content(
            model="gemini-2.5-flash",
            contents=question,
            config={"system_instruction": SYSTEMS["models.generate_content"]},
        )
        server.fail_next(Reply.error(500, "upstream broke"))
        with pytest.raises(openai.InternalServerError):
            chat.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "fail"}]
            )
        observer.score("helpful", 0.9, comment="all four answered")
        return "done"

    observer.observe(session_name="phoenix-e2e", labels={"env": "test"})
    ask_everyone(QUESTION)
    chat.close()
    claude.close()


def indexed(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenInference's flattened list (``llm.input_messages.0.message.role``) as a list of dicts."""
    items: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if key.startswith(prefix + "."):
            index, _, rest = key[len(prefix) + 1 :].partition(".")
            items.setdefault(int(index), {})[rest] = value
    return [items[index] for index in sorted(items)]


class TestPhoenix:
    """What Phoenix, a GenAI-conventions consumer, makes of an aiobs export."""

    def test_a_session_reads_back_as_recorded(
        self, phoenix: Phoenix, standin: StandinServer
    ) -> None:
        record_session(standin)
        memory = InMemoryExporter()
        exporter = OTLPExporter(
            phoenix.traces_url,
            service_name="aiobs-e2e",
            capture_content=True,
            profile="phoenix",
        )
        observer.flush(exporter=CompositeExporter([memory, exporter]))
        [document] = memory.documents
        events = document["events"] + document["function_events"]
        spans = phoenix.spans("aiobs-e2e", expected=len(events))
        assert len(spans) == len(events) == 7

        # the tree and the ids are aiobs's own
        recorded = {
            event["span_id"]: (event["trace_id"], event["parent_span_id"]) for event in events
        }
        shown = {
            span["context"]["span_id"]: (span["context"]["trace_id"], span["parent_id"])
            for span in spans
        }
        assert shown == recorded
        by_id = {span["context"]["span_id"]: span for span in spans}

        # functions: CHAIN spans with their input and output
        functions = {e["name"]: by_id[e["span_id"]] for e in document["function_events"]}
        assert {name: span["span_kind"] for name, span in functions.items()} == {
            "ask_everyone": "CHAIN",
            "retrieve": "CHAIN",
        }
        outer = functions["ask_everyone"]["attributes"]
        assert QUESTION in outer["input.value"]
        assert outer["output.value"] == '"done"'
        assert functions["retrieve"]["attributes"]["output.value"] == f'["{QUESTION.upper()}"]'
        [evaluation] = functions["ask_everyone"]["events"]
        assert evaluation["name"] == "gen_ai.evaluation.result"
        assert evaluation["attributes"]["gen_ai.evaluation.name"] == "helpful"
        assert evaluation["attributes"]["gen_ai.evaluation.score.value"] == 0.9

        # LLM calls: kind, model, tokens, system instructions, prompt and answer
        ok = [event for event in document["events"] if event.get("status") != "error"]
        assert sorted(event["api"] for event in ok) == sorted(SYSTEMS)
        for event in ok:
            span = by_id[event["span_id"]]
            attributes = span["attributes"]
            assert span["span_kind"] == "LLM", event["api"]
            assert span["status_code"] != "ERROR"
            assert attributes["llm.model_name"] == event["request_model"]
            assert attributes["llm.token_count.prompt"] == event["usage"]["input_tokens"]
            assert attributes["llm.token_count.completion"] == event["usage"]["output_tokens"]
            inputs = indexed(attributes, "llm.input_messages")
            assert [(m["message.role"], m["message.content"]) for m in inputs] == [
                ("system", SYSTEMS[event["api"]]),
                ("user", QUESTION),
            ], event["api"]
            [output] = indexed(attributes, "llm.output_messages")
            assert output["message.role"] == "assistant"
            assert output["message.content"] == event["response"]["text"]
        providers_seen = {by_id[e["span_id"]]["attributes"]["llm.provider"] for e in ok}
        assert providers_seen == {"openai", "anthropic", "google"}

        # the session's token totals are aiobs's own
        [session] = document["sessions"]
        llm_spans = [span for span in spans if span["span_kind"] == "LLM"]
        for name, key in (("prompt", "input_tokens"), ("completion", "output_tokens")):
            total = sum(span["attributes"].get(f"llm.token_count.{name}", 0) for span in llm_spans)
            assert total == session["usage"][key]

        # Phoenix prices each call from its own table: the same cost as aiobs's, call by call
        # and for the session
        costs = phoenix.span_costs("aiobs-e2e")
        for event in ok:
            shown_cost = costs[event["span_id"]]
            assert shown_cost is not None, event["api"]
            assert shown_cost["prompt"] == pytest.approx(event["cost"]["input"], rel=1e-9)
            assert shown_cost["completion"] == pytest.approx(event["cost"]["output"], rel=1e-9)
            assert shown_cost["total"] == pytest.approx(event["cost"]["total"], rel=1e-9)
        assert session["cost"]["unpriced_calls"] == 0
        assert phoenix.project_cost("aiobs-e2e") == pytest.approx(session["cost"]["total"])

        # the failing call: an error with its exception event
        [failed] = [event for event in document["events"] if event.get("status") == "error"]
        span = by_id[failed["span_id"]]
        assert span["span_kind"] == "LLM"
        assert span["status_code"] == "ERROR"
        [exception] = [item for item in span["events"] if item["name"] == "exception"]
        assert exception["attributes"]["exception.type"] == "openai.InternalServerError"
        assert "upstream broke" in exception["attributes"]["exception.message"]
        assert exception["attributes"]["exception.stacktrace"]
        assert span["attributes"]["error.type"] == "openai.InternalServerError"
        assert span["attributes"]["http.response.status_code"] == 500
