"""The shortcuts on the recording path of an OpenAI call give what the general code gives.

Reading the completion and its usage, dumping the usage model and computing the cost run on every
recorded call, so they take the common case first; these tests hold the shortcuts to the general
code they replace (``chat_outcome``, ``model_dump(exclude_unset=True)``, ``count(field(...))``)
and check that a recorded call keeps no SDK object alive.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

openai = pytest.importorskip("openai")

from openai._models import construct_type  # noqa: E402
from openai.types import CompletionUsage  # noqa: E402
from openai.types.chat import ChatCompletion  # noqa: E402
from pydantic import BaseModel, RootModel, computed_field  # noqa: E402

from aiobs import observer  # noqa: E402
from aiobs.providers.call import freeze, thaw  # noqa: E402
from aiobs.providers.openai_chat import (  # noqa: E402
    read_chat_completion,
    read_chat_completion_in_c,
    read_common_chat,
)
from aiobs.providers.openai_streams import (  # noqa: E402
    chat_outcome,
    chat_usage,
    raw,
    responses_usage,
)
from aiobs.standin import StandinServer  # noqa: E402
from aiobs.usage import Usage, count, field  # noqa: E402
from tests.providers.clients import openai_client  # noqa: E402
from tests.providers.conftest import only_event, user  # noqa: E402

USAGES = [
    {"prompt_tokens": 25, "completion_tokens": 7, "total_tokens": 32},
    {
        "prompt_tokens": 25,
        "completion_tokens": 7,
        "total_tokens": 32,
        "prompt_tokens_details": {"cached_tokens": 10, "audio_tokens": None},
        "completion_tokens_details": {"reasoning_tokens": 3},
    },
    {"prompt_tokens": 25, "completion_tokens": 0, "total_tokens": 25},
]


class WithComputed(BaseModel):
    """A model whose dump holds more than its set fields."""

    tokens: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def doubled(self) -> int:
        return self.tokens * 2


class TestRawUsage:
    """``raw(usage)`` is the usage model's ``model_dump(exclude_unset=True)``."""

    @pytest.mark.parametrize("fields", USAGES)
    def test_validated_usage(self, fields: dict[str, Any]) -> None:
        usage = CompletionUsage.model_validate(fields)
        assert raw(usage) == usage.model_dump(exclude_unset=True)
        assert list(raw(usage)) == list(usage.model_dump(exclude_unset=True))

    @pytest.mark.parametrize("fields", USAGES)
    def test_constructed_usage(self, fields: dict[str, Any]) -> None:
        usage = CompletionUsage.construct(**fields)  # how the SDK builds its responses
        assert raw(usage) == usage.model_dump(exclude_unset=True)

    def test_unknown_fields_the_api_added(self) -> None:
        usage = CompletionUsage.construct(
            prompt_tokens=1, completion_tokens=2, total_tokens=3, new_counter=4
        )
        assert raw(usage) == usage.model_dump(exclude_unset=True)
        assert raw(usage)["new_counter"] == 4

    def test_responses_usage(self) -> None:
        # the Responses API came with openai 1.66; the oldest supported release has no types
        responses = pytest.importorskip("openai.types.responses")
        usage = responses.ResponseUsage.model_validate(
            {
                "input_tokens": 5,
                "output_tokens": 6,
                "total_tokens": 11,
                "input_tokens_details": {"cached_tokens": 1, "cache_write_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 2},
            }
        )
        assert raw(usage) == usage.model_dump(exclude_unset=True)

    def test_a_model_with_computed_fields_is_dumped(self) -> None:
        assert raw(WithComputed(tokens=2)) == {"tokens": 2, "doubled": 4}

    def test_a_root_model_is_dumped(self) -> None:
        assert raw(RootModel[int](5)) == 5

    def test_dicts_and_none_as_they_are(self) -> None:
        assert raw(None) is None
        assert raw({"a": 1}) == {"a": 1}


def general_chat_usage(usage: Any) -> Usage | None:
    """chat_usage as written before its shortcut: ``count(field(...))`` for every count."""
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens_details", None)
    completion = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=count(field(usage, "prompt_tokens")),
        output_tokens=count(field(usage, "completion_tokens")),
        total_tokens=count(field(usage, "total_tokens")),
        cached_input_tokens=count(field(prompt, "cached_tokens")),
        reasoning_tokens=count(field(completion, "reasoning_tokens")),
        cache_write_tokens=count(field(prompt, "cache_write_tokens")),
    )


class TestUsageCounts:
    """The counts read from usage are those of ``count(field(...))``, odd values included."""

    @pytest.mark.parametrize("fields", USAGES)
    def test_sdk_usage(self, fields: dict[str, Any]) -> None:
        usage = CompletionUsage.model_validate(fields)
        assert chat_usage(usage) == general_chat_usage(usage)

    @pytest.mark.parametrize("value", [12, 0, -1, True, False, "12", "many", 3.7, None, 2**70, [1]])
    def test_odd_values(self, value: Any) -> None:
        usage = SimpleNamespace(
            prompt_tokens=value,
            completion_tokens=value,
            total_tokens=None,
            prompt_tokens_details=SimpleNamespace(cached_tokens=value, cache_write_tokens=value),
            completion_tokens_details={"reasoning_tokens": value},
        )
        assert chat_usage(usage) == general_chat_usage(usage)

    @pytest.mark.parametrize("fields", USAGES)
    def test_usage_read_from_its_dict(self, fields: dict[str, Any]) -> None:
        """What a chat call reads: the dict ``raw()`` made of the SDK's usage."""
        usage = CompletionUsage.model_validate(fields)
        assert chat_usage(raw(usage)) == general_chat_usage(usage)

    def test_counts_the_api_added_read_from_the_dict(self) -> None:
        usage = CompletionUsage.construct(
            prompt_tokens=9,
            completion_tokens=2,
            total_tokens=11,
            prompt_tokens_details={"cached_tokens": 4, "cache_write_tokens": 5},
        )
        assert chat_usage(raw(usage)) == general_chat_usage(usage)
        assert chat_usage(raw(usage)) == Usage(9, 2, 11, 4, None, 5)

    @pytest.mark.parametrize("value", [12, 0, -1, True, False, "12", "many", 3.7, None, 2**70, [1]])
    def test_odd_values_in_a_dict(self, value: Any) -> None:
        usage = {
            "prompt_tokens": value,
            "completion_tokens": value,
            "total_tokens": value,
            "prompt_tokens_details": {"cached_tokens": value, "cache_write_tokens": value},
            "completion_tokens_details": SimpleNamespace(reasoning_tokens=value),
        }
        assert chat_usage(usage) == general_chat_usage(SimpleNamespace(**usage))

    def test_responses_usage_odd_values(self) -> None:
        usage = SimpleNamespace(
            input_tokens="7", output_tokens=-2, total_tokens=True, input_tokens_details=None
        )
        assert responses_usage(usage) == Usage(input_tokens=7)


class TestNothingOfTheSdkIsKept:
    """A buffered event holds no reference to what the SDK returned."""

    def test_the_completion_can_be_collected(self, standin: StandinServer) -> None:
        observer.observe("kept")
        with openai_client(standin) as client:
            completion = client.chat.completions.create(model="gpt-4o-mini", messages=user("Hi"))
            assert isinstance(completion, ChatCompletion)
            gone = weakref.ref(completion)
            usage_gone = weakref.ref(completion.usage)
            del completion
            gc.collect()
            assert gone() is None
            assert usage_gone() is None
        assert only_event()["response"]["usage"]["prompt_tokens"] > 0


# -- the one-pass read of a chat completion ------------------------------------------------------

COUNTS = st.one_of(st.integers(0, 10**6), st.none(), st.sampled_from([-1, True, 2.5, "7", 2**70]))
DETAILS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "cached_tokens": COUNTS,
            "cache_write_tokens": COUNTS,
            "reasoning_tokens": COUNTS,
            "audio_tokens": COUNTS,
            "a_counter_the_sdk_does_not_know": COUNTS,
        },
    ),
)
USAGE = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "prompt_tokens": COUNTS,
            "completion_tokens": COUNTS,
            "total_tokens": COUNTS,
            "prompt_tokens_details": DETAILS,
            "completion_tokens_details": DETAILS,
            "a_counter_the_sdk_does_not_know": COUNTS,
        },
    ),
)
TOOL_CALL = st.fixed_dictionaries(
    {
        "id": st.just("call_1"),
        "type": st.just("function"),
        "function": st.fixed_dictionaries(
            {"name": st.just("lookup"), "arguments": st.just('{"q": 1}')}
        ),
    }
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.just("assistant")},
    optional={
        "content": st.one_of(st.none(), st.just(""), st.text(max_size=20)),
        "refusal": st.one_of(st.none(), st.just("no")),
        "tool_calls": st.one_of(
            st.none(), st.just([]), st.lists(TOOL_CALL, min_size=1, max_size=2)
        ),
        "function_call": st.one_of(st.none(), st.just({"name": "legacy", "arguments": "{}"})),
    },
)
CHOICE = st.fixed_dictionaries(
    {"index": st.just(0), "message": MESSAGE},
    optional={"finish_reason": st.sampled_from([None, "", "stop", "length", "tool_calls"])},
)
COMPLETION = st.fixed_dictionaries(
    {
        "id": st.just("chatcmpl-1"),
        "object": st.just("chat.completion"),
        "created": st.just(1_700_000_000),
        "model": st.one_of(st.just("gpt-4o-mini-2024-07-18"), st.none()),
        "choices": st.lists(CHOICE, max_size=3),
    },
    optional={"usage": USAGE, "a_field_the_sdk_does_not_know": st.just(1)},
)


def sdk_completion(body: dict[str, Any]) -> Any:
    """The ``ChatCompletion`` the SDK builds from this response body (it does not validate)."""
    return construct_type(type_=ChatCompletion, value=body)


def stored(response: Any) -> Any:
    """A response as the event keeps it: serialized at once, read back at export."""
    return thaw(freeze(response, observer.settings.capturer))


def sdk_declares_every_usage_field(completion: Any) -> bool:
    """Whether the installed SDK knows every field of the completion's usage and its details."""
    usage = completion.usage
    if usage is None:
        return True
    parts = [usage, *(getattr(usage, name, None) for name in usage.__pydantic_fields_set__)]
    return not any(getattr(part, "__pydantic_extra__", None) for part in parts)


COMMON_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "A prince avenges his father."},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": USAGES[1],
}


Reader = Callable[[Any], Any]
READERS = {"python": read_chat_completion}
if read_chat_completion_in_c is not None:
    READERS["c"] = read_chat_completion_in_c


@pytest.fixture(params=list(READERS))
def reader(request: pytest.FixtureRequest) -> Reader:
    """The one-pass reader in Python, and in C where ``aiobs._speedups`` is built."""
    return READERS[request.param]


def test_the_integration_reads_in_c_where_built() -> None:
    expected = read_chat_completion_in_c or read_chat_completion
    assert read_common_chat is expected


class TestChatCompletionRead:
    """Each one-pass reader (Python, and C where built) gives what ``chat_outcome`` gives, or
    leaves the shape to it."""

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(COMPLETION)
    def test_the_same_event_as_the_general_reader(
        self, reader: Reader, body: dict[str, Any]
    ) -> None:
        completion = sdk_completion(body)
        general = chat_outcome(completion)
        read = reader(completion)
        if read is None:
            return
        response, counts, model = read
        assert stored(response) == stored(general.response)
        assert (None if counts is None else Usage(*counts)) == general.usage
        assert model == general.response_model

    @pytest.mark.parametrize("usage", [*USAGES, None])
    def test_the_common_shapes_are_read_in_one_pass(
        self, reader: Reader, usage: dict[str, Any] | None
    ) -> None:
        completion = sdk_completion({**COMMON_BODY, "usage": usage})
        if not sdk_declares_every_usage_field(completion):
            # Older SDK releases lack the details models: the general reader takes those.
            assert reader(completion) is None
            return
        read = reader(completion)
        assert read is not None
        response, counts, model = read
        general = chat_outcome(completion)
        assert stored(response) == stored(general.response)
        assert (None if counts is None else Usage(*counts)) == general.usage
        assert model == "gpt-4o-mini-2024-07-18"

    def test_what_the_event_holds_of_a_common_completion(self, reader: Reader) -> None:
        completion = sdk_completion(COMMON_BODY)
        if not sdk_declares_every_usage_field(completion):
            pytest.skip("this openai release has no usage details models")
        read = reader(completion)
        assert read is not None
        response, counts, _model = read
        assert stored(response) == {
            "id": "chatcmpl-1",
            "model": "gpt-4o-mini-2024-07-18",
            "text": "A prince avenges his father.",
            "usage": {
                "prompt_tokens": 25,
                "completion_tokens": 7,
                "total_tokens": 32,
                "prompt_tokens_details": {"cached_tokens": 10, "audio_tokens": None},
                "completion_tokens_details": {"reasoning_tokens": 3},
            },
            "finish_reasons": ["stop"],
        }
        assert counts == (25, 7, 32, 10, 3, None, False)

    @pytest.mark.parametrize(
        "change",
        [
            {"choices": []},
            {"choices": COMMON_BODY["choices"] * 2},
            {"a_field_the_sdk_does_not_know": 1},
            {"usage": {**USAGES[0], "a_counter_the_sdk_does_not_know": 1}},
            {"usage": {**USAGES[0], "prompt_tokens": -1}},
            {"usage": {**USAGES[0], "prompt_tokens_details": {"cached_tokens": -4}}},
            {
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "tool_calls": [
                                {
                                    "id": "c",
                                    "type": "function",
                                    "function": {"name": "f", "arguments": "{}"},
                                }
                            ],
                        },
                    }
                ]
            },
        ],
    )
    def test_other_shapes_are_left_to_the_general_reader(
        self, reader: Reader, change: dict[str, Any]
    ) -> None:
        assert reader(sdk_completion({**COMMON_BODY, **change})) is None
