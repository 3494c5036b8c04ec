"""A small question-answering pipeline over three LLM providers, recorded by aiobs.

Run with ``make demo`` (or ``python examples/demo.py [output.json]``). It uses the real
``openai``, ``anthropic`` and ``google-genai`` SDKs. A provider whose API key is set in the
environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``) is called for real;
the others are pointed at aiobs's local stand-in server, so the demo needs no network and no key.

What it shows: nested, async, streaming and threaded work under labelled sessions; every LLM call
recorded with its tokens, cost and time to first token; secrets redacted; then the document that
``flush()`` wrote, summarised.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types

from aiobs import observe, observer
from aiobs.standin import StandinServer

DOCUMENTS = {
    "aiobs": "aiobs records LLM calls and decorated functions into one JSON document.",
    "sessions": "A session groups the events of one run or one request, with labels.",
    "redaction": "API keys and tokens are hidden before anything is stored.",
    "export": "flush() writes the document to a file, or hands it to an exporter.",
}

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
EMBEDDING_MODEL = "text-embedding-3-small"


class Clients:
    """One client per provider: the real API when its key is set, else the stand-in."""

    def __init__(self, standin: StandinServer) -> None:
        self.where: dict[str, str] = {}
        openai_key = os.environ.get("OPENAI_API_KEY")
        self.openai = openai.OpenAI(**self._options("openai", openai_key, standin.openai_url))
        self.async_openai = openai.AsyncOpenAI(
            **self._options("openai", openai_key, standin.openai_url)
        )
        self.anthropic = anthropic.AsyncAnthropic(
            **self._options("anthropic", os.environ.get("ANTHROPIC_API_KEY"), standin.anthropic_url)
        )
        gemini_key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        self.where["gemini"] = "api" if gemini_key else "stand-in"
        self.gemini = genai.Client(
            api_key=gemini_key or "demo-key",
            http_options=None if gemini_key else types.HttpOptions(base_url=standin.gemini_url),
        )

    def _options(self, provider: str, key: str | None, standin_url: str) -> dict[str, Any]:
        self.where[provider] = "api" if key else "stand-in"
        if key:
            return {"api_key": key}
        return {"api_key": "demo-key", "base_url": standin_url, "max_retries": 0}


CLIENTS: Clients  # set by main(); a module global so that it is not captured as an argument


@observe
def embed(texts: list[str]) -> list[list[float]]:
    """Embed texts with OpenAI (called from a thread pool: the session follows)."""
    result = CLIENTS.openai.embeddings.create(model=EMBEDDING_MODEL, input=texts)
    return [item.embedding for item in result.data]


@observe
def retrieve(question: str, k: int = 2) -> list[str]:
    """Embed the documents in a thread pool and keep the k closest to the question."""
    [target] = embed([question])
    names = list(DOCUMENTS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        vectors = list(pool.map(lambda name: embed([DOCUMENTS[name]])[0], names))
    with observer.span("rank", candidates=len(vectors)) as span:
        scored = sorted(
            zip(names, vectors, strict=True),
            key=lambda pair: -sum(a * b for a, b in zip(pair[1], target, strict=False)),
        )
        chosen = [name for name, _ in scored[:k]]
        span.set("chosen", chosen)
    return chosen


@observe
async def stream_answer(prompt: str) -> AsyncIterator[str]:
    """Stream an answer from OpenAI, yielding text as it arrives."""
    stream = await CLIENTS.async_openai.chat.completions.create(
        model=MODELS["openai"],
        messages=[
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": prompt},
        ],
        stream=True,
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


@observe
async def review(question: str, answer: str) -> str:
    """Ask Anthropic whether the answer addresses the question."""
    message = await CLIENTS.anthropic.messages.create(
        model=MODELS["anthropic"],
        max_tokens=100,
        system="You review answers. Reply PASS or FAIL with a reason.",
        messages=[{"role": "user", "content": f"Question: {question}\nAnswer: {answer}"}],
    )
    return "".join(block.text for block in message.content if block.type == "text")


@observe
async def translate(text: str) -> str:
    """Translate with Gemini, streaming the reply."""
    parts = []
    stream = await CLIENTS.gemini.aio.models.generate_content_stream(
        model=MODELS["gemini"], contents=f"Translate into French: {text}"
    )
    async for chunk in stream:
        for candidate in chunk.candidates or []:
            content_parts = (candidate.content.parts if candidate.content else None) or []
            parts.extend(part.text for part in content_parts if part.text)
    return "".join(parts)


@observe(enh_prompt=True)
async def answer(question: str) -> str:
    names = await asyncio.to_thread(retrieve, question)
    context = " ".join(DOCUMENTS[name] for name in names)
    observer.event("context_chosen", documents=names)
    prompt = f"Answer '{question}' using: {context} (token sk-demo-0123456789abcdefghij)"
    reply = "".join([piece async for piece in stream_answer(prompt)])
    verdict, french = await asyncio.gather(review(question, reply), translate(reply))
    validate(verdict)
    return f"{reply}\n{french}"


@observe
def validate(verdict: str) -> str:
    if not verdict.strip():
        raise ValueError("the reviewer gave no verdict")
    return verdict


async def handle(question: str, user: str) -> None:
    """One request: its own session, current only inside this task."""
    async with observer.session("request", labels={"user": user}):
        try:
            await answer(question)
        except ValueError:
            observer.event("validation_failed")


async def serve() -> None:
    questions = [
        ("What does aiobs record?", "ada"),
        ("How are secrets handled?", "grace"),
        ("Where does flush write?", "alan"),
    ]
    await asyncio.gather(*(handle(question, user) for question, user in questions))


# -- the summary ----------------------------------------------------------------------------------


def summarise(path: Path, where: dict[str, str]) -> str:
    """A short, readable account of an export document."""
    document = json.loads(path.read_text(encoding="utf-8"))
    events = document["function_events"] + document["events"]
    lines = [f"Wrote {path} ({path.stat().st_size:,} bytes)", ""]
    lines.append(f"{len(document['sessions'])} sessions, {len(events)} events:")
    per_session = Counter(event["session_id"] for event in events)
    for session in document["sessions"]:
        labels = {k: v for k, v in (session["labels"] or {}).items() if not k.startswith("aiobs_")}
        cost = (session.get("cost") or {}).get("total")
        lines.append(
            f"  - {session['name']:<8} {per_session[session['id']]:>3} events"
            f"  {session.get('llm_calls', 0):>2} LLM calls"
            f"  {_dollars(cost):>10}  labels {labels}"
        )
    lines += ["", "LLM calls by provider:"]
    lines += _provider_table(document["events"], where)
    errors = [e for e in events if e.get("error")]
    lines.append(
        f"Errors: {len(errors)}"
        + "".join(f"\n  - {e.get('name') or e['api']}: {e['error']}" for e in errors)
    )
    redacted = sum("[REDACTED]" in json.dumps(e) for e in events)
    lines.append(f"Events with a secret redacted: {redacted}")
    lines.append("")
    first = next(s for s in document["sessions"] if s["name"] == "request")
    lines.append(f"Trace tree of session {first['id'][:8]} (user {first['labels']['user']}):")
    roots = [n for n in document["trace_tree"] if n["session_id"] == first["id"]]
    lines.extend(_render(roots, "  "))
    return "\n".join(lines)


def _dollars(value: float | None) -> str:
    return "no cost" if value is None else f"${value:.6f}"


def _provider_table(events: list[dict[str, Any]], where: dict[str, str]) -> list[str]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        groups[(event["provider"], event["api"])].append(event)
    lines = [
        f"  {'provider':<10} {'api':<32} {'calls':>5} {'in tok':>7} {'out tok':>7}"
        f" {'cost':>11} {'ttft ms':>8}"
    ]
    for (provider, api), group in sorted(groups.items()):
        tokens_in = sum((e.get("usage") or {}).get("input_tokens") or 0 for e in group)
        tokens_out = sum((e.get("usage") or {}).get("output_tokens") or 0 for e in group)
        costs = [e["cost"]["total"] for e in group if e.get("cost")]
        ttfts = [e["stream"]["ttft_ms"] for e in group if (e.get("stream") or {}).get("ttft_ms")]
        ttft = f"{sum(ttfts) / len(ttfts):.1f}" if ttfts else "-"
        lines.append(
            f"  {provider:<10} {api:<32} {len(group):>5} {tokens_in:>7} {tokens_out:>7}"
            f" {_dollars(sum(costs) if costs else None):>11} {ttft:>8}"
        )
    lines.append("  (" + ", ".join(f"{p}: {w}" for p, w in sorted(where.items())) + ")")
    return lines


def _render(nodes: list[dict[str, Any]], indent: str) -> list[str]:
    out = []
    for node in nodes:
        label = node.get("name") or f"{node['provider']} {node['api']}"
        extra = ""
        if node.get("kind") == "generator":
            extra = f", {node.get('yielded')} items"
        if node.get("usage"):
            extra += f", {node['usage']['total_tokens']} tokens"
        if node.get("stream"):
            extra += f", first token after {node['stream']['ttft_ms']} ms"
        if node.get("error"):
            extra += f", error: {node['error']}"
        out.append(f"{indent}{label}  {node['duration_ms']:.1f} ms{extra}")
        out.extend(_render(node["children"], indent + "  "))
    return out


def main() -> int:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo.json")
    global CLIENTS  # noqa: PLW0603 - set once, before any request
    with StandinServer() as standin:
        CLIENTS = Clients(standin)
        # OpenAI chat streams report usage only when asked: let aiobs ask (the program still
        # sees exactly the chunks it would see without it).
        observer.configure(openai_stream_usage=True)
        observer.observe(session_name="startup", labels={"app": "demo"})
        retrieve("warm-up question")  # recorded in the default session
        asyncio.run(serve())  # each request records into its own session
        observer.end()
        written = observer.flush(output)
    if written is None:
        print("flush failed; see the log", file=sys.stderr)
        return 1
    print(summarise(Path(written), CLIENTS.where))
    return 0


if __name__ == "__main__":
    sys.exit(main())
