"""Throughput of ``Redaction().redact_text`` over about 10 MB of LLM-like text, in MB/s.

The corpus is made from a fixed seed, so every run and every checkout measures the same text:
prompts and completions of 200 to 8,000 characters that mix English prose, chat messages as
JSON, Python code, Markdown with links and e-mail addresses, UUIDs, git hashes, timestamps and
base64, with words that contain a marker without being a credential (``task-``, ``basic``,
``secret``, ``@``, ``Key=``...). About one text in a hundred holds a made-up credential.

Each repeat redacts every text once, on one core; the best and the median of the repeats are
reported, with the number of texts the redaction changed and of the kinds of credential it
left in the text.

Usage::

    python bench/bench_redaction.py              # 10 MB, 7 repeats
    python bench/bench_redaction.py --quick      # 1 MB, 2 repeats (smoke test)
    python bench/bench_redaction.py --json out.json
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import random
import statistics
import string
import sys
import time
import uuid

from aiobs.redaction import Redaction

_WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "model prompt answer question context retrieval document user assistant system tool call "
    "function result error retry latency token budget cost request response stream chunk "
    "summary analysis report customer order invoice payment account shipping address policy "
    "dataset training eval score accuracy precision recall baseline pipeline learn keys "
    "Python JavaScript LinkedIn GitHub OpenAI Anthropic Gemini PostgreSQL Redis Kubernetes "
    "Europe Important Note However Therefore Finally Also Then"
)
WORDS = _WORDS.split()
_TRICKY_WORDS = (
    "task risk desk mask ask basic basically Basic secret secrets Secret password passage "
    "bypass compass key monkey keyboard bearer bearing sklearn network framework benchmark Asia"
)
TRICKY_WORDS = _TRICKY_WORDS.split()
"""Words that hold a marker or look like a key name; one word in forty is one of them."""
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
HOSTS = ["example.com", "docs.example.org", "api.internal.example.net", "status.example.io"]
IDENTIFIERS = [
    "task_id",
    "user_id",
    "max_tokens",
    "network_config",
    "hf_hub_download",
    "work_dir",
    "bookmark_url",
    "ask_model",
    "risk_score",
    "desk_number",
    "secret_name",
    "api_base",
]


def made_up_credentials() -> list[str]:
    """One credential of each common kind, assembled so that no scanner takes it for real."""
    alnum = string.ascii_letters + string.digits
    rng = random.Random(7)

    def run(n: int, alphabet: str = alnum) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    return [
        "sk-" + "proj-" + run(48),
        "sk-" + "ant-api03-" + run(60),
        "Bearer " + run(40),
        "AIza" + run(35),
        "ghp_" + run(36),
        "github_" + "pat_" + run(22) + "_" + run(59),
        "xoxb-" + "2048-1024-" + run(24),
        "AKIA" + run(16, string.ascii_uppercase + string.digits),
        "ASIA" + run(16, string.ascii_uppercase + string.digits),
        "eyJ" + run(20) + ".eyJ" + run(30) + "." + run(40),
        "sk_" + "live_" + run(24),
        "hf_" + run(34, string.ascii_letters),
        "postgresql://app:" + run(16) + "@db.example.com:5432/prod",
        "Authorization: Basic " + base64.b64encode(b"svc:" + run(12).encode()).decode(),
        "aws_secret_access_key = " + run(40, alnum + "+/"),
        "AccountKey=" + run(86, alnum + "+/") + "==",
    ]


def prose(rng: random.Random, words: int) -> str:
    sentences = []
    while words > 0:
        n = rng.randint(6, 22)
        words -= n
        sentence = " ".join(
            rng.choice(TRICKY_WORDS if rng.random() < 0.025 else WORDS) for _ in range(n)
        )
        sentences.append(sentence[0].upper() + sentence[1:] + rng.choice(".!?."))
    return " ".join(sentences)


def code(rng: random.Random) -> str:
    name = rng.choice(IDENTIFIERS)
    return (
        f"```python\n@observe\ndef {name}(value: str, retries: int = 3) -> dict:\n"
        f'    """{prose(rng, 10)}"""\n    result = client.call({name}=value, timeout=30)\n'
        f"    return {{'{name}': result, 'ok': True}}\n```"
    )


def chat_message(rng: random.Random) -> str:
    message = {
        "role": rng.choice(["user", "assistant", "system"]),
        "content": prose(rng, rng.randint(10, 60)),
        "tool_calls": [{"id": f"call_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}"}],
        "max_tokens": rng.randint(16, 4096),
    }
    return json.dumps(message)


def links(rng: random.Random) -> str:
    who, host = rng.choice(NAMES), rng.choice(HOSTS)
    guide = f"https://{host}/guide/{rng.randint(1, 99)}?ref=task-{rng.randint(1, 9)}"
    return (
        f"See [the guide]({guide}) or write to {who}@{host}. Built from commit "
        f"{rng.getrandbits(160):040x} at 2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T12:30:00Z."
    )


def log_line(rng: random.Random) -> str:
    request, task = uuid.UUID(int=rng.getrandbits(128)), uuid.UUID(int=rng.getrandbits(128))
    payload = base64.b64encode(prose(rng, 8).encode()).decode()
    return (
        f"request {request} for task-{task} returned {rng.randint(200, 504)} after "
        f"{rng.random() * 900:.1f} ms; payload {payload}"
    )


def advice(rng: random.Random) -> str:
    return (
        "Use basic auth only in tests; the secret manager holds the key. Params: "
        f"apiKey=<your key>&region=eu, url http://localhost:{rng.randint(1024, 9999)}/v1 "
        f"and ssh://git@{rng.choice(HOSTS)}/repo.git."
    )


def lookalikes(rng: random.Random) -> str:
    return (
        f"The sk-learn pipeline ({rng.choice(['desk', 'task', 'risk'])}-"
        f"{rng.choice(['assessment', 'runner', 'management'])}-{rng.randint(1, 99)}) "
        "passed the basic checks; bypass the passage cache."
    )


def paragraph(rng: random.Random) -> str:
    return prose(rng, rng.randint(20, 120))


FRAGMENTS = (paragraph, code, chat_message, links, log_line, advice, lookalikes)
WEIGHTS = (55, 10, 10, 8, 7, 5, 5)
"""How often each kind of fragment occurs in a text, in percent."""


def corpus(total_bytes: int, seed: int = 20240611) -> tuple[list[str], list[str]]:
    """Texts of about ``total_bytes`` UTF-8 bytes, and the credentials put into them."""
    rng = random.Random(seed)
    credentials = made_up_credentials()
    texts: list[str] = []
    inserted: list[str] = []
    size = 0
    while size < total_bytes:
        target = rng.choice([200, 500, 1000, 2000, 4000, 8000])
        parts: list[str] = []
        length = 0
        while length < target:
            [kind] = rng.choices(FRAGMENTS, WEIGHTS)
            part = kind(rng)
            parts.append(part)
            length += len(part) + 1
        if rng.random() < 0.01:
            credential = rng.choice(credentials)
            parts.insert(rng.randrange(len(parts) + 1), credential)
            inserted.append(credential)
        text = "\n".join(parts)
        texts.append(text)
        size += len(text.encode())
    return texts, inserted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 MB and 2 repeats, for a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this file")
    options = parser.parse_args()
    megabytes, repeats = (1, 2) if options.quick else (10, 7)
    texts, inserted = corpus(megabytes * 1_000_000)
    size = sum(len(text.encode()) for text in texts)
    rules = Redaction()
    redact = rules.redact_text
    redacted = [redact(text) for text in texts]
    changed = sum(after != before for after, before in zip(redacted, texts, strict=True))
    missed = sum(any(credential in text for text in redacted) for credential in set(inserted))
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            redact(text)
        seconds.append(time.perf_counter() - start)
    best, median = size / min(seconds) / 1e6, size / statistics.median(seconds) / 1e6
    info = {"python": platform.python_version(), "repeats": repeats}
    print("aiobs redaction benchmark:", ", ".join(f"{k} {v}" for k, v in info.items()))
    print(
        f"texts {len(texts):,}, {size / 1e6:.1f} MB, {len(inserted)} hold a credential "
        f"({len(set(inserted))} kinds, {missed} kinds not hidden), {changed} texts changed"
    )
    print(f"MB/s  best {best:.1f}  median {median:.1f}")
    if options.json:
        figures = {"texts": len(texts), "bytes": size, "holding": len(inserted)}
        figures |= {"kinds_not_hidden": missed, "changed": changed}
        figures |= {"mb_per_s_best": round(best, 1), "mb_per_s_median": round(median, 1)}
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump({"info": info, "results": figures}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
