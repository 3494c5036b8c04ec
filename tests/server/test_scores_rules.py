"""One check of a score's name, value and comment, shared by ``observer.score`` and the server."""

from __future__ import annotations

from typing import Any

import pytest

from aiobs import observer
from aiobs.server.storage import InvalidDocument, NewScore
from aiobs.server.storage.scores import new_score_row

INVALID = [
    ("Bad", 1, None),
    ("", 1, None),
    ("x" * 64, 1, None),
    (7, 1, None),
    ("ok", float("nan"), None),
    ("ok", float("inf"), None),
    ("ok", 10**400, None),
    ("ok", "", None),
    ("ok", "c" * 65, None),
    ("ok", "a\x00b", None),
    ("ok", None, None),
    ("ok", [1], None),
    ("ok", 1, 5),
]


@pytest.mark.parametrize(("name", "value", "comment"), INVALID)
def test_the_sdk_and_the_server_refuse_the_same_scores_with_the_same_words(
    name: Any, value: Any, comment: Any
) -> None:
    with observer.session("s"), pytest.raises(ValueError, match=r"^Score") as sdk:
        observer.score(name, value, comment=comment)
    with pytest.raises(InvalidDocument) as server:
        new_score_row(NewScore("s1", name, value, comment=comment), "scores[0]", 1.0)
    assert str(server.value) == f"scores[0]: {sdk.value}"


def test_an_integer_too_large_for_a_float_is_a_clear_value_error() -> None:
    """It raised OverflowError ("int too large to convert to float") from math.isfinite."""
    with (
        observer.session("s"),
        pytest.raises(ValueError, match="too large for a float: a numeric score must be finite"),
    ):
        observer.score("big", 10**400)


def test_valid_scores_pass_both() -> None:
    with observer.session("s"):
        for value in (0, -1.5, True, "pass", "c" * 64):
            observer.score("fine.v2-x_1", value, comment="c" * 5000)
    row = new_score_row(NewScore("s1", "fine.v2-x_1", 2**70, comment="c" * 5000), "s", 1.0)
    assert row[7] == "c" * 4096  # the comment, cut as the SDK cuts it


def test_a_category_holding_nul_is_refused_by_observer_score() -> None:
    """It was accepted, and the server (which cannot store NUL) then refused the whole upload."""
    with observer.session("s"), pytest.raises(ValueError, match="category holding NUL"):
        observer.score("tone", "a\x00b")


def test_nul_in_a_comment_becomes_a_replacement_character() -> None:
    """An evaluator's message may quote recorded text holding NUL: the score is kept."""
    with observer.session("s") as session:
        observer.score("ok", True, comment="saw \x00 in the output")
        assert session.scores[-1]["comment"] == "saw \ufffd in the output"
