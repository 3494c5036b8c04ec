"""Scores in the web UI, in a real headless Chromium: the sessions list's Scores column and
score filter, a node's scores in the session page, and a score's mean and pass rate charted on
the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aiobs.server.app import create_app
from aiobs.server.storage import open_storage
from tests.server.app_fixtures import document, function_event, live_server, llm_event, session
from tests.ui.conftest import DETAIL_SHOWN, UiServer
from tests.ui.test_browser import session_names, sign_in

pytestmark = pytest.mark.slow

HOUR = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def score(name: str, value: Any, at: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "comment": None,
        "source": "api",
        "evaluator": None,
        "span_id": None,
        "created_at": at,
        **extra,
    }


def graded_document() -> dict[str, Any]:
    """Three sessions: a good answer, a poor one (with a PII finding), and one not scored."""
    good, poor, plain = (
        session("good answer", started_at=HOUR + 30),
        session("poor answer", started_at=HOUR + 20),
        session("not scored", started_at=HOUR + 10),
    )
    calls = [llm_event(run["id"], model="gpt-4o-mini") for run in (good, poor, plain)]
    for call, run in zip(calls, (good, poor, plain), strict=True):
        call["started_at"] = run["started_at"] + 1
    calls[0]["scores"] = [score("helpful", 0.9, HOUR + 40, span_id=calls[0]["span_id"])]
    calls[1]["scores"] = [
        score("helpful", 0.2, HOUR + 3700, span_id=calls[1]["span_id"]),
        score(
            "pii",
            False,
            HOUR + 3701,
            span_id=calls[1]["span_id"],
            source="eval",
            evaluator="pii_detection",
            comment="failed: found an email address <a@b.example>",
        ),
    ]
    good["scores"] = [score("verdict", "pass", HOUR + 50)]
    step = function_event(poor["id"])
    step["started_at"] = poor["started_at"]
    return document([good, poor, plain], calls, [step])


@pytest.fixture(scope="module")
def scored_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    storage = open_storage(f"sqlite:///{tmp_path_factory.mktemp('scores')}/ui.db")
    key = storage.create_key("free", name="scores")
    other = storage.create_key("free", name="other")
    storage.ingest(key.record, graded_document(), None)
    try:
        with live_server(create_app(storage)) as url:
            yield UiServer(url, storage, key, other)
    finally:
        storage.close()


class TestSessionsList:
    """The Scores column shows each session's scores by name; the Score field filters."""

    def test_scores_column(self, page: Any, scored_server: UiServer) -> None:
        sign_in(page, scored_server)
        headers = page.locator("table.sessions thead th").all_inner_texts()
        assert headers[-1] == "Scores"
        cells = dict(
            zip(
                session_names(page),
                page.locator("table.sessions tbody td.scores").all_inner_texts(),
                strict=True,
            )
        )
        assert cells == {
            "good answer": "helpful: 0.9 verdict: pass",
            "poor answer": "helpful: 0.2 pii: false",
            "not scored": "",
        }
        assert page.locator("td.scores .score-low").all_inner_texts() == [
            "helpful: 0.2",
            "pii: false",
        ]

    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("helpful:<0.5", ["poor answer"]),
            ("helpful:>=0.5", ["good answer"]),
            ("pii:false", ["poor answer"]),
            ("verdict:=pass", ["good answer"]),
            ("helpful, verdict", ["good answer"]),
        ],
    )
    def test_score_filter(
        self, page: Any, scored_server: UiServer, expression: str, expected: list[str]
    ) -> None:
        sign_in(page, scored_server)
        page.fill("input[name=score]", expression)
        page.click("button:has-text('Filter')")
        page.wait_for_url("**/ui/?**")
        assert session_names(page) == expected
        assert page.locator("input[name=score]").input_value() == expression

    def test_a_bad_filter_says_what_to_write(self, page: Any, scored_server: UiServer) -> None:
        sign_in(page, scored_server)
        page.fill("input[name=score]", "helpful:about 0.5")
        page.click("button:has-text('Filter')")
        error = page.locator("p.error").inner_text()
        assert "is not a score filter: write NAME (has the score), NAME:<0.5" in error


class TestSessionPage:
    """A node's detail shows its scores: value, who gave it and why; the session's own above."""

    def test_a_nodes_scores_with_evaluator_and_comment(
        self, page: Any, scored_server: UiServer
    ) -> None:
        sign_in(page, scored_server)
        page.click("text=poor answer")
        row = page.locator("#tree .row.llm")
        assert row.locator(".badge-score").inner_text() == "2 scores"
        row.click()
        scores = page.locator("#detail section.scores")
        assert scores.locator("h3").text_content() == "Scores"
        items = scores.locator("li.score-item")
        assert items.count() == 2
        assert items.nth(0).locator(".score").inner_text() == "helpful: 0.2"
        assert items.nth(0).locator(".score-source").inner_text().strip() == (
            "given by program (observer.score)"
        )
        assert items.nth(1).locator(".score").inner_text() == "pii: false"
        assert items.nth(1).locator(".score-source").inner_text().strip() == (
            "given by evaluator pii_detection"
        )
        # recorded text is written as text, never as HTML
        assert items.nth(1).locator(".score-comment").inner_text() == (
            "failed: found an email address <a@b.example>"
        )
        page.locator("#tree .row.function").click()
        assert page.locator("#detail section.scores").count() == 0

    def test_the_sessions_own_scores(self, page: Any, scored_server: UiServer) -> None:
        sign_in(page, scored_server)
        page.click("text=good answer")
        assert page.locator(".session-scores").inner_text() == "Scores verdict: pass"


class TestDashboard:
    """A chosen score's mean and pass rate per hour and model, charted and in a table."""

    def test_mean_and_pass_rate(self, page: Any, scored_server: UiServer) -> None:
        sign_in(page, scored_server)
        page.goto(
            scored_server.url
            + "/ui/dashboard?score=helpful&bucket=hour&since=2026-01-01T00:00&until=2026-01-02"
        )
        rows = page.locator("table.score-stats tbody tr")
        assert [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())] == [
            ["2026-01-01 00:00:00", "gpt-4o-mini", "1", "0.9", "100.0 %"],
            ["2026-01-01 01:00:00", "gpt-4o-mini", "1", "0.2", "0.0 %"],
        ]
        assert page.locator("#chart-score_mean svg circle.point").count() == 2
        assert page.locator("#chart-score_pass_rate svg circle.point").count() == 2
        titles = page.locator("#chart-score_pass_rate circle.point title").all_text_contents()
        assert titles == [
            "2026-01-01 00:00 · gpt-4o-mini: 100 %",
            "2026-01-01 01:00 · gpt-4o-mini: 0 %",
        ]
        assert page.locator("#chart-score_mean .legend li").all_inner_texts() == ["gpt-4o-mini"]

    def test_a_score_never_given(self, page: Any, scored_server: UiServer) -> None:
        sign_in(page, scored_server)
        page.goto(scored_server.url + "/ui/dashboard?score=nothing")
        assert page.locator("#score-figures .empty").inner_text() == (
            "No score named nothing was given in this range."
        )

    def test_a_bad_score_name(self, page: Any, scored_server: UiServer) -> None:
        sign_in(page, scored_server)
        page.goto(scored_server.url + "/ui/dashboard?score=Not%20a%20name")
        assert "Score name 'Not a name' is invalid" in page.locator("p.error").inner_text()


def test_without_scores_the_list_has_no_scores_column(page: Any, ui_server: UiServer) -> None:
    sign_in(page, ui_server)
    assert "Scores" not in page.locator("table.sessions thead th").all_inner_texts()
    assert page.locator("td.scores").count() == 0


@pytest.fixture(scope="module")
def support_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """The screenshots' support assistant: long evaluator score names on every session."""
    from tests.ui.screenshots import scored_documents

    storage = open_storage(f"sqlite:///{tmp_path_factory.mktemp('support')}/ui.db")
    key = storage.create_key("free", name="support assistant")
    other = storage.create_key("free", name="other")
    for scored in scored_documents():
        storage.ingest(key.record, scored, None)
    try:
        with live_server(create_app(storage)) as url:
            yield UiServer(url, storage, key, other)
    finally:
        storage.close()


SCORE_CHIPS_OUTSIDE = """(width) => {
  const wrap = document.querySelector(".table-wrap").getBoundingClientRect();
  const right = Math.min(wrap.right, width);
  return [...document.querySelectorAll("table.sessions tbody .score")]
    .filter((chip) => chip.getClientRects().length > 0)
    .filter((chip) => chip.getBoundingClientRect().right > right + 0.5)
    .map((chip) => chip.textContent);
}"""
"""The visible score chips of the sessions list that end beyond the list's box or the screen."""


class TestScoresLayout:
    """Long score names (``hallucination_detection``) stay readable on a laptop and a phone."""

    def test_the_scores_column_fits_at_1280(self, page: Any, support_server: UiServer) -> None:
        sign_in(page, support_server)
        assert page.evaluate(SCORE_CHIPS_OUTSIDE, 1280) == []
        overflow = page.evaluate(
            "() => { const w = document.querySelector('.table-wrap');"
            " return w.scrollWidth - w.clientWidth; }"
        )
        assert overflow <= 0, "the sessions table scrolls sideways at 1280 px"
        # every session still shows all of its scores
        cells = page.locator("table.sessions tbody td.scores").all_inner_texts()
        assert cells[0].split() == [
            "hallucination_detection:",
            "0.97",
            "pii_detection:",
            "1",
            "user_feedback:",
            "true",
        ]

    def test_a_phone_shows_each_sessions_scores_under_its_name(
        self, browser: Any, support_server: UiServer
    ) -> None:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            page = context.new_page()
            sign_in(page, support_server)
            rows = page.locator("table.sessions tbody tr")
            assert rows.count() == 6
            for i in range(rows.count()):
                chips = rows.nth(i).locator(".score")
                visible = [chip for chip in chips.all() if chip.is_visible()]
                assert [chip.inner_text().split(":")[0] for chip in visible][:2] == [
                    "hallucination_detection",
                    "pii_detection",
                ]
            assert page.evaluate(SCORE_CHIPS_OUTSIDE, 390) == []
            warranty = page.locator("table.sessions tbody tr", has_text="ticket 4824")
            low = [c.inner_text() for c in warranty.locator(".score-low").all() if c.is_visible()]
            assert low == ["hallucination_detection: 0.3", "user_feedback: false"]
        finally:
            context.close()


LOW_RED = "rgb(143, 29, 20)"  # the text colour of a low score (.score-low) in the sessions list


class TestPassOrFail:
    """An evaluator's verdict (its comment is ``<status>: <message>``) is a coloured chip, and a
    failing value is red wherever a score is shown, as in the sessions list."""

    def test_an_evaluators_status_is_a_chip(self, page: Any, support_server: UiServer) -> None:
        sign_in(page, support_server)
        page.goto(support_server.url + "/ui/sessions/ticket-4824")
        page.locator("#tree .row.llm").click()
        page.wait_for_function(DETAIL_SHOWN)
        items = page.locator("#detail section.scores li.score-item")
        statuses = items.locator(".score-status")
        assert statuses.all_inner_texts() == ["failed", "passed"]
        assert statuses.nth(0).get_attribute("class") == "score-status status-failed"
        assert statuses.nth(1).get_attribute("class") == "score-status status-passed"
        failed, passed = (
            statuses.nth(i).evaluate("(chip) => getComputedStyle(chip).color") for i in (0, 1)
        )
        assert failed == LOW_RED
        assert passed not in (failed, "rgb(0, 0, 0)")
        # the comment still reads (and copies) as the evaluator wrote it
        assert items.nth(0).locator(".score-comment").inner_text() == (
            "failed: Hallucinations detected: 1 issue(s) - {'high': 1}"
        )
        assert items.nth(1).locator(".score-comment").inner_text() == "passed: No PII detected"
        # the failing value is red, the passing one is not
        values = items.locator(".score")
        assert values.nth(0).get_attribute("class") == "score score-low"
        assert values.nth(1).get_attribute("class") == "score"

    def test_a_comment_that_is_not_a_verdict_stays_text(
        self, page: Any, scored_server: UiServer
    ) -> None:
        sign_in(page, scored_server)
        page.click("text=poor answer")
        page.locator("#tree .row.llm").click()
        items = page.locator("#detail section.scores li.score-item")
        # the program's score has no comment; the evaluator's verdict is a chip
        assert items.nth(0).locator(".score-status").count() == 0
        assert items.nth(1).locator(".score-status").inner_text() == "failed"

    def test_a_failing_node_and_session_score_are_red(
        self, page: Any, support_server: UiServer
    ) -> None:
        sign_in(page, support_server)
        page.goto(support_server.url + "/ui/sessions/ticket-4824")
        badge = page.locator("#tree .row.llm .badge-score")
        assert badge.inner_text() == "2 scores"
        assert badge.evaluate("(chip) => getComputedStyle(chip).color") == LOW_RED
        assert page.locator(".session-scores .score-low").inner_text() == "user_feedback: false"
        page.goto(support_server.url + "/ui/sessions/ticket-4822")
        badge = page.locator("#tree .row.llm .badge-score")
        assert badge.evaluate("(chip) => getComputedStyle(chip).color") != LOW_RED


TEXT_BEYOND_FIELD = """(input) => {
  const style = getComputedStyle(input);
  const probe = document.createElement("span");
  probe.style.font = style.font;
  probe.style.whiteSpace = "pre";
  probe.textContent = input.value;
  document.body.append(probe);
  const text = probe.getBoundingClientRect().width;
  probe.remove();
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return text - room;
}"""
"""How many pixels of an input's value its field cannot show."""


def test_a_score_filter_with_a_long_name_is_readable_in_its_field(
    page: Any, support_server: UiServer
) -> None:
    """The Score field is wide enough for two conditions on evaluators' score names."""
    sign_in(page, support_server)
    expression = "hallucination_detection:<0.9, pii_detection:>=0.5"
    page.fill("input[name=score]", expression)
    page.click("button:has-text('Filter')")
    page.wait_for_url("**/ui/?**")
    field = page.locator("input[name=score]")
    assert field.input_value() == expression
    hidden = field.evaluate(TEXT_BEYOND_FIELD)
    assert hidden <= 0, "the Score field hides the end of its filter"
    assert session_names(page) == [
        "ticket 4825 invoice",
        "ticket 4824 warranty",
        "ticket 4822 shipping",
    ]
