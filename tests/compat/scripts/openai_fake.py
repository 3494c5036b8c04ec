"""An aiobs 0.2 user's test: OpenAI's ``Completions.create`` replaced by a fake, then observed.

The fake returns ``types.SimpleNamespace`` objects shaped like a ``ChatCompletion``. The script
patches it in before ``observer.observe()`` (which instruments the SDK), makes one call, flushes
to a file and reports what the file holds for that call. aiobs 0.2's ``observe()`` checks its API
key over the network; those calls are replaced where they exist (this package has none of them).
"""

from __future__ import annotations

import json
import types

import _compat
import openai
from openai.resources.chat.completions import Completions

from aiobs import collector, observer

for offline in ("_validate_api_key", "_record_usage", "_flush_to_server"):
    if hasattr(collector.Collector, offline):
        setattr(collector.Collector, offline, lambda self, *args, **kwargs: None)

NS = types.SimpleNamespace
REPLY = NS(
    id="chatcmpl-fake",
    object="chat.completion",
    created=1700000000,
    model="gpt-4o-mini-2024-07-18",
    choices=[
        NS(
            index=0,
            finish_reason="stop",
            message=NS(role="assistant", content="Hello from the fake.", tool_calls=None),
        )
    ],
    usage=NS(prompt_tokens=11, completion_tokens=5, total_tokens=16),
)


def fake(self: object, **kwargs: object) -> object:
    return REPLY


Completions.create = fake  # type: ignore[method-assign]

observer.observe(session_name="fake", api_key="aiobs_sk_compat")
client = openai.OpenAI(api_key="sk-test")
reply = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello."}], temperature=0.0
)
observer.end()
path = observer.flush("fake.json")
with open(str(path), encoding="utf-8") as stream:
    document = json.load(stream)


def usage_of(event: dict[str, object]) -> object:
    """Token counts from wherever the package put them (0.2: ``response.usage``)."""
    response = event.get("response") or {}
    assert isinstance(response, dict)
    return response.get("usage")


_compat.report(
    returned_the_fake=reply is REPLY,
    events=[
        {
            "provider": event.get("provider"),
            "api": event.get("api"),
            "request_model": (event.get("request") or {}).get("model"),
            "response": event.get("response"),
            "error": event.get("error"),
        }
        for event in document["events"]
    ],
)
