"""A small question-answering pipeline, recorded by aiobs and summarised from its export.

Run with ``make demo`` (or ``python examples/demo.py [output.json]``). Nothing here needs a
network or an API key: the "LLM" is a local stand-in, so what you see is aiobs recording nested,
async, streaming and threaded work under labelled sessions, then the document it wrote.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiobs import observe, observer

DOCUMENTS = {
    "aiobs": "aiobs records LLM calls and decorated functions into one JSON document.",
    "sessions": "A session groups the events of one run or one request, with labels.",
    "redaction": "API keys and tokens are replaced by [REDACTED] before anything is stored.",
    "export": "flush() writes the document to a file, or hands it to an exporter.",
}


@observe
def embed(text: str) -> list[float]:
    """A toy embedding: letter frequencies of a few vowels."""
    time.sleep(0.002)
    return [round(text.count(vowel) / max(len(text), 1), 3) for vowel in "aeiou"]


@observe
def retrieve(question: str, k: int = 2) -> list[str]:
    """Embed the documents in a thread pool and keep the k closest to the question."""
    target = embed(question)
    with ThreadPoolExecutor(max_workers=2) as pool:
        vectors = dict(zip(DOCUMENTS, pool.map(embed, DOCUMENTS.values()), strict=True))
    with observer.span("rank", candidates=len(vectors)) as span:
        ranked = sorted(
            vectors,
            key=lambda name: sum((a - b) ** 2 for a, b in zip(vectors[name], target, strict=True)),
        )
        span.set("chosen", ranked[:k])
    return ranked[:k]


@observe
async def stream_completion(prompt: str, api_key: str) -> AsyncIterator[str]:  # noqa: ARG001
    """A stand-in for a streaming LLM call; the key never reaches the export."""
    for word in prompt.split()[-12:]:
        await asyncio.sleep(0.001)
        yield word + " "


@observe(enh_prompt=True)
async def answer(question: str) -> str:
    names = retrieve(question)
    context = " ".join(DOCUMENTS[name] for name in names)
    observer.event("context_chosen", documents=names)
    prompt = f"Answer '{question}' using: {context}"
    parts = [token async for token in stream_completion(prompt, api_key="sk-demo-0123456789abcdef")]
    return "".join(parts).strip()


@observe
def validate(text: str) -> str:
    if "REDACTED" not in text and len(text) < 20:
        raise ValueError(f"answer too short: {text!r}")
    return text


async def handle(question: str, user: str) -> None:
    """One request: its own session, current only inside this task."""
    async with observer.session("request", labels={"user": user}):
        reply = await answer(question)
        try:
            validate(reply[:15])
        except ValueError:
            observer.event("validation_failed", reply_length=len(reply))


async def serve() -> None:
    questions = [
        ("What does aiobs record?", "ada"),
        ("How are secrets handled?", "grace"),
        ("Where does flush write?", "alan"),
    ]
    await asyncio.gather(*(handle(question, user) for question, user in questions))


def summarise(path: Path) -> str:
    """A short, readable account of an export document."""
    document = json.loads(path.read_text(encoding="utf-8"))
    events = document["function_events"] + document["events"]
    lines = [f"Wrote {path} ({path.stat().st_size:,} bytes)", ""]
    lines.append(f"{len(document['sessions'])} sessions, {len(events)} events:")
    per_session = Counter(event["session_id"] for event in events)
    for session in document["sessions"]:
        labels = session["labels"] or {}
        user_labels = {k: v for k, v in labels.items() if not k.startswith("aiobs_")}
        lines.append(
            f"  - {session['name']:<8} {per_session[session['id']]:>3} events  labels {user_labels}"
        )
    kinds = Counter(event.get("kind", "function") for event in document["function_events"])
    lines.append(f"By kind: {dict(sorted(kinds.items()))}")
    errors = [e for e in events if e.get("error")]
    lines.append(
        f"Errors: {len(errors)}" + "".join(f"\n  - {e['name']}: {e['error']}" for e in errors)
    )
    redacted = [e for e in events if "[REDACTED]" in json.dumps(e.get("kwargs"))]
    lines.append(f"Arguments redacted in {len(redacted)} events")
    lines.append("")
    first_request = next(s for s in document["sessions"] if s["name"] == "request")
    lines.append(
        f"Trace tree of session {first_request['id'][:8]} (user {first_request['labels']['user']}):"
    )
    roots = [n for n in document["trace_tree"] if n["session_id"] == first_request["id"]]
    lines.extend(_render(roots, "  "))
    return "\n".join(lines)


def _render(nodes: list[dict[str, Any]], indent: str) -> list[str]:
    out = []
    for node in nodes:
        label = node.get("name") or node["api"]
        extra = ""
        if node.get("kind") == "generator":
            extra = f", {node.get('yielded')} items"
        if node.get("error"):
            extra += f", error: {node['error']}"
        out.append(f"{indent}{label}  {node['duration_ms']:.1f} ms{extra}")
        out.extend(_render(node["children"], indent + "  "))
    return out


def main() -> int:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo.json")
    observer.observe(session_name="startup", labels={"app": "demo"})
    retrieve("warm-up question")  # recorded in the default session
    asyncio.run(serve())  # each request records into its own session
    observer.end()
    written = observer.flush(output)
    if written is None:
        print("flush failed; see the log", file=sys.stderr)
        return 1
    print(summarise(Path(written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
