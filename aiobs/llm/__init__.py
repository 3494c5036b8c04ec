"""One interface over the OpenAI, Gemini and Anthropic clients (the aiobs 0.2 ``aiobs.llm`` API).

The LLM-judged evaluators call their model through it::

    from aiobs.llm import LLM

    llm = LLM.from_client(OpenAI(), model="gpt-4o-mini")   # recognised by its shape
    response = llm.complete("What is 2+2?", system_prompt="Answer briefly.")
    response.content, response.usage, response.cost
    response = await llm.complete_async("What is 2+2?")     # AsyncOpenAI awaited; sync threaded

The calls are made with aiobs's instrumentation suppressed: a judge's calls never appear in the
user's sessions. Importing this package imports no SDK; it works with the client it is given.
"""

from .anthropic import AnthropicLLM
from .base import BaseLLM, LLMMessage, LLMResponse
from .factory import LLM
from .gemini import GeminiLLM
from .openai import OpenAILLM

__all__ = [
    "LLM",
    "AnthropicLLM",
    "BaseLLM",
    "GeminiLLM",
    "LLMMessage",
    "LLMResponse",
    "OpenAILLM",
]
