"""Take the screenshots of docs/ui.md: ``python -m tests.ui.screenshots docs/img``.

A server with the sample sessions of the browser tests runs on a free port; Debian's Chromium
(through Playwright) signs in and photographs each page at 1280x800, and the session, dashboard
and compare pages on a narrow screen (the agent's rerun is added for the compare page, and a
session with values the SDK cut short or redacted for the last picture). The score views are
taken in a project of their own, a support assistant whose answers were scored by evaluators and
by its users (:func:`scored_documents`), so that the other pictures stay as they are.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from aiobs.server.app import create_app
from aiobs.server.storage import NewKey
from tests.server.app_fixtures import document, live_server, session
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, DETAIL_SHOWN, seeded_storage
from tests.ui.data import START, agent_rerun_document, function, llm, marked_document

if TYPE_CHECKING:
    from playwright.sync_api import Page

DAY = START + 4 * 86400  # 2026-01-05 00:00 UTC, the support assistant's day


class Ticket(NamedTuple):
    """A support ticket answered by the assistant, and how its answer was scored."""

    number: int
    topic: str
    question: str
    answer: str
    model: str
    at: float
    """Seconds after ``DAY``."""
    grounded: float
    """The ``hallucination_detection`` score (below 0.5: failed)."""
    pii: str | None = None
    """The kind of PII the answer leaked, if any."""
    feedback: bool | None = None
    """The user's thumbs up (True) or down, if given."""


H = 3600.0
TICKETS = (
    Ticket(
        4821,
        "refund",
        "Can I get a refund for order 1182?",
        "Yes: refunds take 5 days.",
        "gpt-4o-mini",
        8 * H + 300,
        0.95,
        feedback=True,
    ),
    Ticket(
        4822,
        "shipping",
        "Where is my parcel?",
        "It left the warehouse yesterday.",
        "gpt-4o-mini",
        9 * H + 360,
        0.88,
    ),
    Ticket(
        4823,
        "account",
        "Please change my login email.",
        "Done: we wrote to jo.doe@example.com.",
        "gpt-4o-mini",
        10 * H,
        0.91,
        pii="email",
        feedback=True,
    ),
    Ticket(
        4824,
        "warranty",
        "How long is the warranty?",
        "Five years on every product.",
        "claude-haiku",
        11 * H + 60,
        0.3,
        feedback=False,
    ),
    Ticket(
        4825,
        "invoice",
        "Send me last month's invoice.",
        "Here is the link to March's invoice.",
        "claude-haiku",
        12 * H + 120,
        0.62,
    ),
    Ticket(
        4826,
        "returns",
        "Can I return a used item?",
        "Yes, within 30 days, if undamaged.",
        "gpt-4o-mini",
        13 * H + 180,
        0.97,
        feedback=True,
    ),
)


def _score(
    name: str,
    value: Any,
    at: float,
    *,
    span_id: str | None = None,
    evaluator: str | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "comment": comment,
        "source": "api" if evaluator is None else "eval",
        "evaluator": evaluator,
        "span_id": span_id,
        "created_at": at,
    }


def scored_documents() -> list[dict[str, Any]]:
    """A support assistant's day: each ticket's answer (a function ``answer_ticket``, its
    knowledge-base search and the LLM call) scored by the ``hallucination_detection`` and
    ``pii_detection`` evaluators on the call, and some sessions by the user's thumbs up or down
    (``user_feedback``, given by the program on the session). Ticket 4823's answer leaks an
    email address (PII failed); ticket 4824's warranty answer is made up (hallucination failed,
    a thumbs down)."""
    documents = []
    for ticket in TICKETS:
        session_id = f"ticket-{ticket.number}"
        at = DAY - START + ticket.at  # the helpers of tests.ui.data count from START
        root, search, call = (f"{ticket.number:08x}{part:08x}" for part in (1, 2, 3))
        run = session(
            f"ticket {ticket.number} {ticket.topic}",
            started_at=START + at,
            labels={"app": "support-assistant", "channel": "chat"},
            session_id=session_id,
        )
        run["ended_at"] = START + at + 2.4
        question = ticket.question
        steps = [
            function(
                session_id,
                root,
                None,
                "answer_ticket",
                at=at,
                ms=2300,
                args=[{"ticket": ticket.number, "question": question}],
                result={"reply": ticket.answer},
            ),
            function(
                session_id,
                search,
                root,
                "search_kb",
                at=at + 0.05,
                ms=350,
                args=[question],
                result=[f"kb/{ticket.topic}.md"],
            ),
        ]
        messages = [
            {"role": "system", "content": "You answer customer tickets from the knowledge base."},
            {"role": "user", "content": question},
        ]
        provider = "anthropic" if ticket.model.startswith("claude") else "openai"
        event = llm(
            session_id,
            call,
            root,
            at + 0.5,
            1700,
            messages=messages,
            model=ticket.model,
            provider=provider,
        )
        event["response"] = {"text": ticket.answer, "model": ticket.model}
        if provider == "anthropic":
            event["api"] = "messages.create"
        judged = START + at + 30
        grounded = ticket.grounded >= 0.5
        event["scores"] = [
            _score(
                "hallucination_detection",
                ticket.grounded,
                judged,
                span_id=call,
                evaluator="hallucination_detection",
                comment="passed: No hallucinations detected"
                if grounded
                else "failed: Hallucinations detected: 1 issue(s) - {'high': 1}",
            ),
            _score(
                "pii_detection",
                0.0 if ticket.pii else 1.0,
                judged + 1,
                span_id=call,
                evaluator="pii_detection",
                comment=f"failed: PII detected: 1 instance(s) of ['{ticket.pii}']"
                if ticket.pii
                else "passed: No PII detected",
            ),
        ]
        if ticket.feedback is not None:
            comment = None if ticket.feedback else "The warranty is two years, not five."
            run["scores"] = [
                _score("user_feedback", ticket.feedback, START + at + 120, comment=comment)
            ]
        documents.append(document([run], [event], steps))
    return documents


def _sign_in(page: Page, url: str, secret: str) -> None:
    page.goto(url + "/ui/signin")
    page.fill("#key", secret)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(url + "/ui/")


SHOTS = (
    "signin",
    "sessions",
    "sessions-search",
    "session",
    "session-narrow",
    "dashboard",
    "dashboard-narrow",
    "compare",
    "compare-narrow",
    "session-markers",
    "sessions-scores",
    "sessions-score-filter",
    "sessions-scores-narrow",
    "session-scores",
    "dashboard-scores",
)

SCORED_RANGE = "since=2026-01-05T00:00&until=2026-01-06T00:00"


def _score_shots(browser: Any, key: NewKey, url: str, out: Path) -> None:
    """The score views, in the support assistant's project (``key``'s)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _sign_in(page, url, key.secret)
    page.screenshot(path=out / "sessions-scores.png")
    page.fill("input[name=score]", "hallucination_detection:<0.9")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**/ui/?**")
    page.screenshot(path=out / "sessions-score-filter.png")
    page.goto(url + "/ui/sessions/ticket-4824")
    page.click("#tree .row.llm")
    page.wait_for_function(DETAIL_SHOWN)
    page.screenshot(path=out / "session-scores.png")
    page.goto(url + f"/ui/dashboard?score=hallucination_detection&{SCORED_RANGE}")
    box = page.locator("#score-figures").bounding_box()
    assert box is not None, "the dashboard shows no score section"
    margin = 16  # the section with a little of the page around it
    clip = {
        "x": box["x"] - margin,
        "y": box["y"] - margin,
        "width": box["width"] + 2 * margin,
        "height": box["height"] + 2 * margin,
    }
    page.screenshot(path=out / "dashboard-scores.png", full_page=True, clip=clip)
    narrow = browser.new_page(viewport={"width": 390, "height": 844})
    _sign_in(narrow, url, key.secret)
    narrow.screenshot(path=out / "sessions-scores-narrow.png", full_page=True)


def main(directory: str) -> int:
    """Write the ``SHOTS`` as PNG files into ``directory``."""
    from playwright.sync_api import sync_playwright  # the browser tests import the data alone

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        storage, key, _ = seeded_storage(Path(data))
        scored_key = storage.create_key("free", name="support assistant")
        for scored in scored_documents():
            storage.ingest(scored_key.record, scored, None)
        try:
            with live_server(create_app(storage)) as url, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url + "/ui/signin")
                page.screenshot(path=out / "signin.png")
                _sign_in(page, url, key.secret)
                page.screenshot(path=out / "sessions.png")
                page.goto(url + "/ui/?q=capital+France")
                page.screenshot(path=out / "sessions-search.png")
                page.goto(url + "/ui/sessions/agent-run-1")
                page.focus("#tree li[aria-selected=true]")
                for press in ("ArrowDown", "ArrowRight", "ArrowRight"):
                    page.keyboard.press(press)
                page.wait_for_function(DETAIL_SHOWN)  # the node's detail is fetched
                page.screenshot(path=out / "session.png")
                narrow = browser.new_page(viewport={"width": 390, "height": 844})
                _sign_in(narrow, url, key.secret)
                narrow.goto(url + "/ui/sessions/agent-run-1")
                narrow.wait_for_function(DETAIL_SHOWN)
                narrow.screenshot(path=out / "session-narrow.png", full_page=True)
                page.goto(url + "/ui/dashboard")
                page.screenshot(path=out / "dashboard.png", full_page=True)
                narrow.goto(url + "/ui/dashboard")
                narrow.screenshot(path=out / "dashboard-narrow.png", full_page=True)
                storage.ingest(key.record, agent_rerun_document(), None)
                page.goto(url + "/ui/compare?a=agent-run-1&b=agent-run-2")
                page.screenshot(path=out / "compare.png")
                narrow.goto(url + "/ui/compare?a=agent-run-1&b=agent-run-2")
                narrow.screenshot(path=out / "compare-narrow.png", full_page=True)
                storage.ingest(key.record, marked_document(), None)
                page.goto(url + "/ui/sessions/marked-run-1")
                page.wait_for_function(DETAIL_SHOWN)
                page.screenshot(path=out / "session-markers.png")
                _score_shots(browser, scored_key, url, out)
                browser.close()
        finally:
            storage.close()
    for name in SHOTS:
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
