"""The stand-in's Gemini API routes, in the wire format google-genai expects.

Served under ``/v1``, ``/v1beta`` and ``/v1alpha`` (the SDK's API version depends on its release):

- ``POST /{version}/models/{model}:generateContent``: one JSON response;
- ``POST /{version}/models/{model}:streamGenerateContent?alt=sse``: server-sent events
  ``data: {json}``, each ended by two CRLF, one text piece per chunk, each chunk carrying the
  usage so far (Gemini's streamed usage is cumulative);
- ``POST /{version}/models/{model}:batchEmbedContents`` and ``:embedContent``: embeddings, without
  token counts (the Gemini Developer API reports none for embeddings).

Answers come from :func:`~aiobs.standin.answers.answer_for` applied to the last user text. When
the request declares functions, the answer is a call of the first one with arguments
``{"query": <last user text>}`` (and in text again once the request gives the function's result).
A ``thinkingConfig`` with a budget other than zero adds thought tokens to the usage, and a thought
summary part when ``includeThoughts`` is set. Every response carries ``modelVersion`` (the model
name plus ``-001``) and a ``responseId``. Errors use Google's body shape, through
:func:`error_reply`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .answers import answer_for, count_tokens, embedding, pieces
from .server import Reply, Request

_ROUTE = re.compile(
    r"^/v1(?:beta|alpha)?/(?P<model>(?:models|tunedModels)/[^/:]+):"
    r"(?P<method>generateContent|streamGenerateContent|batchEmbedContents|embedContent)$"
)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
"""HTTP status -> the ``google.rpc.Code`` name Google puts in ``error.status``."""

DEFAULT_DIMENSIONS = 8
"""Length of the stand-in's embedding vectors when the request sets no ``outputDimensionality``."""


def error_reply(status: int, message: str, **options: Any) -> Reply:
    """An error in Google's shape: ``{"error": {"code", "message", "status"}}``."""
    body = {
        "error": {
            "code": status,
            "message": message,
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }
    return Reply.json(body, status=status, **options)


def handle(request: Request) -> Reply | None:
    """The reply to a Gemini API request, or ``None`` when the path is not one of its routes."""
    match = _ROUTE.match(request.path)
    if match is None:
        return None
    if request.method != "POST":
        return error_reply(405, f"{request.method} is not supported on {request.path}")
    body = request.json()
    if not isinstance(body, dict):
        return error_reply(400, "Invalid JSON payload received.")
    model = match.group("model").partition("/")[2]
    method = match.group("method")
    if method == "batchEmbedContents":
        return _batch_embed(body)
    if method == "embedContent":
        return _embed(body)
    return _generate(model, body, streamed=method == "streamGenerateContent", query=request.query)


def _generate(model: str, body: dict[str, Any], streamed: bool, query: dict[str, Any]) -> Reply:
    """``generateContent`` / ``streamGenerateContent`` (SSE with ``alt=sse``, else a JSON array)."""
    if not body.get("contents"):
        return error_reply(400, "* GenerateContentRequest.contents: contents is not specified")
    answer = _Answer(model, body)
    if not streamed:
        return Reply.json(answer.whole())
    if query.get("alt") == ["sse"]:
        return Reply.sse(_sse_event(chunk) for chunk in answer.chunks())
    return Reply.json(answer.chunks())


def _sse_event(chunk: dict[str, Any]) -> bytes:
    """One server-sent event as Google sends it (CRLF line ends)."""
    return f"data: {json.dumps(chunk, separators=(',', ':'))}\r\n\r\n".encode()


# -- generation ------------------------------------------------------------------------------------


class _Answer:
    """The stand-in's reply to one generation request, whole or in stream chunks."""

    def __init__(self, model: str, body: dict[str, Any]) -> None:
        self.model_version = f"{model}-001"
        contents = body.get("contents") or []
        self.question = _last_user_text(contents)
        self.prompt_tokens = count_tokens(_prompt_text(body))
        self.response_id = hashlib.sha256(f"{model}\n{self.question}".encode()).hexdigest()[:20]
        # After a function's result, the model answers in text (as automatic calling expects).
        answered = _ends_with_function_response(contents)
        self.function = None if answered else _first_function_name(body.get("tools"))
        thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
        self.thinks = bool(thinking) and thinking.get("thinkingBudget", -1) != 0
        self.shows_thoughts = self.thinks and bool(thinking.get("includeThoughts"))

    @property
    def text(self) -> str:
        """The answer's text."""
        return answer_for(self.question)

    @property
    def thought_tokens(self) -> int:
        """Tokens the stand-in says it spent thinking (none unless thinking is on)."""
        return 2 * count_tokens(self.text) if self.thinks else 0

    def _function_call(self) -> dict[str, Any]:
        digest = hashlib.sha256(self.question.encode()).hexdigest()[:12]
        return {"id": f"call_{digest}", "name": self.function, "args": {"query": self.question}}

    def _thought_part(self) -> dict[str, Any]:
        return {"text": f"Thinking about: {self.question}", "thought": True}

    def _usage(self, output_tokens: int) -> dict[str, Any]:
        usage: dict[str, Any] = {"promptTokenCount": self.prompt_tokens}
        if output_tokens:
            usage["candidatesTokenCount"] = output_tokens
        if self.thinks:
            usage["thoughtsTokenCount"] = self.thought_tokens
        usage["totalTokenCount"] = self.prompt_tokens + output_tokens + self.thought_tokens
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.prompt_tokens}]
        return usage

    def _response(
        self, parts: list[dict[str, Any]], output_tokens: int, finished: bool
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finished:
            candidate["finishReason"] = "STOP"
        return {
            "candidates": [candidate],
            "usageMetadata": self._usage(output_tokens),
            "modelVersion": self.model_version,
            "responseId": self.response_id,
        }

    def whole(self) -> dict[str, Any]:
        """The non-streamed ``GenerateContentResponse``."""
        parts = [self._thought_part()] if self.shows_thoughts else []
        if self.function is not None:
            call = self._function_call()
            parts.append({"functionCall": call})
            output = count_tokens(json.dumps(call["args"]))
        else:
            parts.append({"text": self.text})
            output = count_tokens(self.text)
        return self._response(parts, output, finished=True)

    def chunks(self) -> list[dict[str, Any]]:
        """The streamed responses, each with the usage counted so far."""
        chunks: list[dict[str, Any]] = []
        if self.shows_thoughts:
            chunks.append(self._response([self._thought_part()], 0, finished=False))
        if self.function is not None:
            call = self._function_call()
            output = count_tokens(json.dumps(call["args"]))
            chunks.append(self._response([{"functionCall": call}], output, finished=True))
            return chunks
        said = ""
        words = pieces(self.text)
        for index, piece in enumerate(words):
            said += piece
            last = index == len(words) - 1
            chunks.append(self._response([{"text": piece}], count_tokens(said), finished=last))
        return chunks


def _texts(content: Any) -> list[str]:
    """The text parts of one ``Content`` (as JSON)."""
    if not isinstance(content, dict):
        return []
    return [
        part["text"]
        for part in content.get("parts") or []
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]


def _last_user_text(contents: list[Any]) -> str:
    """The text of the last user turn (the role is optional and defaults to the user)."""
    for content in reversed(contents):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            texts = _texts(content)
            if texts:
                return " ".join(texts)
    return ""


def _prompt_text(body: dict[str, Any]) -> str:
    """All the prompt's text: system instruction and every turn."""
    texts = _texts(body.get("systemInstruction"))
    for content in body.get("contents") or []:
        texts.extend(_texts(content))
    return "\n".join(texts)


def _ends_with_function_response(contents: list[Any]) -> bool:
    """Whether the last turn gives a function's result back to the model."""
    last = contents[-1] if contents else None
    parts = last.get("parts") if isinstance(last, dict) else None
    return any(isinstance(part, dict) and "functionResponse" in part for part in parts or [])


def _first_function_name(tools: Any) -> str | None:
    """The name of the first declared function, if the request declares any."""
    for tool in tools or []:
        if not isinstance(tool, dict):
            continue
        for declaration in tool.get("functionDeclarations") or []:
            if isinstance(declaration, dict) and declaration.get("name"):
                return str(declaration["name"])
    return None


# -- embeddings ------------------------------------------------------------------------------------


def _vector(request: Any) -> dict[str, Any]:
    """``ContentEmbedding`` for one ``EmbedContentRequest``."""
    if not isinstance(request, dict):
        request = {}
    text = " ".join(_texts(request.get("content")))
    dimensions = request.get("outputDimensionality") or DEFAULT_DIMENSIONS
    return {"values": embedding(text, int(dimensions))}


def _batch_embed(body: dict[str, Any]) -> Reply:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        return error_reply(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
    return Reply.json({"embeddings": [_vector(request) for request in requests]})


def _embed(body: dict[str, Any]) -> Reply:
    if not isinstance(body.get("content"), dict):
        return error_reply(400, "* EmbedContentRequest.content: content is not specified")
    return Reply.json({"embedding": _vector(body)})
