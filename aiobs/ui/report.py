"""``aiobs report PATH... -o report.html``: flush files as one self-contained HTML file.

The files are loaded as the local viewer loads them (:class:`~aiobs.ui.local.LocalFiles`, into
a temporary storage of the server's kind), and each session is prepared exactly as the session
page prepares it (:func:`~aiobs.ui.trace.session_view`). The page holds everything: the UI's
stylesheet, the data as JSON in a ``<script type="application/json">`` block (escaped by
:func:`~aiobs.ui.routes.script_json`), and one inline script made of the session page's own
script and ``static/report.js``, which shows the sessions list or one session by the address's
``#session-N``. A Content-Security-Policy meta tag allows that script and that stylesheet by
their hashes and nothing else, so the file fetches nothing and runs nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..server.storage import KeyRecord, Quotas, SessionQuery, Storage, open_storage
from .local import LOCAL_TIER, LocalFiles
from .routes import script_json
from .state import HERE, templates
from .trace import session_view

REPORT_CSS = """
.report-note { color: #b8c0cf; font-size: 12px; }
.problems { margin-bottom: 12px; }
.problems ul { margin: 4px 0 0; padding-left: 20px; overflow-wrap: anywhere; }
"""
"""What the report's page adds to the UI's stylesheet."""


@dataclass(frozen=True)
class WrittenReport:
    """What :func:`write_report` wrote: sessions, bytes, and the files it could not read."""

    sessions: int
    size: int
    problems: list[str]


def write_report(paths: list[Path], output: Path, *, title: str | None = None) -> WrittenReport:
    """Write the sessions of the flush files under ``paths`` into the HTML file ``output``.

    Files that cannot be read are left out and named in :attr:`WrittenReport.problems` (and
    in the page); when no file can be read and nothing is found, nothing is written.

    Raises:
        OSError: ``output`` cannot be written.
    """
    with tempfile.TemporaryDirectory(prefix="aiobs-report-") as directory:
        storage = open_storage(f"sqlite:///{directory}/report.db", Quotas({LOCAL_TIER: None}))
        try:
            key = storage.create_key(LOCAL_TIER, name="aiobs report").record
            files = LocalFiles(paths, storage, key, log_problems=False)
            files.refresh(force=True)
            problems = files.problems()
            sessions = _sessions(storage, key)
        finally:
            storage.close()
    if not sessions and problems:
        return WrittenReport(0, 0, problems)
    html = render_report(sessions, problems, title or ", ".join(path.name for path in paths))
    data = html.encode("utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    # readable by its owner only, as FileExporter makes the flush files it is made from
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return WrittenReport(len(sessions), len(data), problems)


def _sessions(storage: Storage, key: KeyRecord) -> list[dict[str, Any]]:
    """Every session of the key's project, newest first, as ``GET /v1/sessions/{id}`` has it."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = storage.sessions(key.project_id, SessionQuery(limit=500, cursor=cursor))
        for summary in page.sessions:
            session = storage.session(key.project_id, summary["id"])
            if session is not None:
                found.append(session)
        cursor = page.next_cursor
        if cursor is None:
            return found


def render_report(sessions: list[dict[str, Any]], problems: list[str], title: str) -> str:
    """The report's HTML for sessions as the query API answers them."""
    css = (HERE / "static" / "ui.css").read_text(encoding="utf-8") + REPORT_CSS
    session_js = (HERE / "static" / "session.js").read_text(encoding="utf-8")
    report_js = (HERE / "static" / "report.js").read_text(encoding="utf-8")
    script = (
        "(() => {\n// static/session.js, run for the session shown\n"
        f"function renderSession() {{\n{session_js}\n}}\n\n{report_js}\n}})();\n"
    )
    if "</style" in css.lower() or "</script" in script.lower():
        raise RuntimeError("the UI's stylesheet or scripts cannot be inlined as they are")
    csp = (
        f"default-src 'none'; script-src '{_sha256(script)}'; style-src '{_sha256(css)}'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    data = {"sessions": [session_view(session) for session in sessions]}
    return (
        templates()
        .get_template("report.html")
        .render(
            title=title,
            csp=csp,
            css=css,
            script=script,
            data_json=script_json(data),
            sessions=[session["session"] for session in sessions],
            show_scores=any(session["session"].get("score_summary") for session in sessions),
            problems=problems,
            written=time.time(),
        )
    )


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode()
