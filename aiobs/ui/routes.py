"""The web UI's pages: sign-in and sign-out, the sessions list and one session.

Pages are rendered on the server with autoescaped Jinja2 templates; the session page hands its
trace tree to ``static/session.js`` as JSON in a ``<script type="application/json">`` block, and
the script fetches a node's detail from ``/ui/sessions/{id}/nodes/{node}`` when it is shown. A
signed-in person sees what the query API shows their key (:mod:`aiobs.server.queries`): the same
storage queries, limited to the key's project, so a session of another project is answered with
the same not-found page as one that does not exist.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..server.deps import server_state
from ..server.params import (
    BadParameterError,
    parse_labels,
    parse_score_filters,
    parse_time,
    text,
)
from ..server.storage import ScoreFilter, SessionQuery
from . import compare, dashboard, trace
from .security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SignIn,
    read_session,
    sign_in_hash,
)
from .security import session_payload as new_session_payload
from .state import UiState, ui_state
from .trace import session_view

router = APIRouter(prefix="/ui", include_in_schema=False)

MAX_FORM_BYTES = 8192
PAGE_SIZE = 50
NOT_SIGNED_IN = "/ui/signin"


async def _form(request: Request) -> dict[str, str]:
    """The fields of a small urlencoded form (the first value of each)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _same_origin(request: Request) -> bool:
    """Whether the browser says (when it says) that the request comes from this server."""
    if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _csrf_ok(request: Request, state: UiState, fields: dict[str, str]) -> bool:
    return _same_origin(request) and state.signer.csrf_valid(
        request.cookies.get(CSRF_COOKIE), fields.get("csrf")
    )


def _render(
    request: Request,
    state: UiState,
    template: str,
    status: int = 200,
    *,
    signed_in: bool = False,
    **context: Any,
) -> HTMLResponse:
    """A page, with a CSRF cookie (made when missing) and its form token in the context."""
    context["signed_in"] = signed_in
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    context["csrf"] = state.signer.csrf_token(nonce)
    html = state.templates.get_template(template).render(request=request, **context)
    response = HTMLResponse(html, status)
    if request.cookies.get(CSRF_COOKIE) != nonce:
        _set_cookie(request, response, CSRF_COOKIE, nonce, max_age=None)
    return response


def _set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


async def _signed_in(request: Request, state: UiState) -> SignIn | None:
    """The sign-in of this request's cookie, while its key is live."""
    if state.local_project is not None:  # the local viewer over flush files: no keys
        return SignIn("local", state.local_project, time.time())
    sign_in = read_session(state.signer, request.cookies.get(SESSION_COOKIE))
    if sign_in is None:
        return None
    storage = server_state(request).storage

    def valid(found: SignIn) -> bool:
        live = state.keys.live_project(found.key_id) == found.project_id
        return live and not storage.sign_in_ended(sign_in_hash(found))

    return sign_in if await run_in_threadpool(valid, sign_in) else None


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse(NOT_SIGNED_IN, 303)


@router.get("/signin")
async def sign_in_page(request: Request) -> Response:
    """The sign-in form (a person already signed in goes to the sessions)."""
    state = ui_state(request)
    if await _signed_in(request, state) is not None:
        return RedirectResponse("/ui/", 303)
    return _render(request, state, "signin.html", error=None)


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    """Check the pasted key; a live one gets a signed session cookie."""
    state = ui_state(request)
    fields = await _form(request)
    if not _csrf_ok(request, state, fields):
        return _render(request, state, "forbidden.html", 403)
    secret = fields.get("key", "").strip()
    keys = server_state(request).keys
    record = await run_in_threadpool(keys.authenticate, secret) if secret else None
    if record is None:
        error = (
            "That key is not a live API key of this server (create one with 'aiobs keys create')."
        )
        return _render(request, state, "signin.html", 401, error=error)
    response = RedirectResponse("/ui/", 303)
    token = state.signer.sign(new_session_payload(record.key_id, record.project_id))
    _set_cookie(request, response, SESSION_COOKIE, token, max_age=SESSION_SECONDS)
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    """End the sign-in on the server (a copy of the cookie stops working) and remove the cookie."""
    state = ui_state(request)
    fields = await _form(request)
    if not _csrf_ok(request, state, fields):
        return _render(request, state, "forbidden.html", 403)
    sign_in = read_session(state.signer, request.cookies.get(SESSION_COOKIE))
    if sign_in is not None and state.local_project is None:
        storage = server_state(request).storage
        await run_in_threadpool(storage.end_sign_in, sign_in_hash(sign_in), sign_in.expires_at)
    response = _to_sign_in()
    response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


FILTERS = ("q", "label", "name", "since", "until", "model", "provider", "errors", "score")


def label_filters(given: list[str]) -> list[str]:
    """The ``key:value`` items of the sessions page's ``label`` parameters.

    Repeated parameters (``?label=team:a,b&label=env:prod``) are taken whole, so a value may
    hold a comma. One parameter is the form's box, ``key:value, key:value``: it is split at the
    commas, and a piece without a ``:`` is part of the value before it (``team:a,b`` is one
    label).
    """
    given = [item.strip() for item in given if item.strip()]
    if len(given) != 1:
        return given
    items: list[str] = []
    for piece in given[0].split(","):
        if ":" not in piece and items:
            items[-1] += "," + piece
        elif piece.strip():
            items.append(piece.strip())
    return items


def session_query(
    params: dict[str, str], cursor: str | None, labels: list[str] | None = None
) -> SessionQuery:
    """The storage query of the sessions page's filters, parsed as ``GET /v1/sessions`` does.

    ``labels`` are the ``label`` parameters (see :func:`label_filters`); without them, the
    ``label`` of ``params``.

    Raises:
        BadParameterError: a filter the query API would refuse too.
    """
    labels = label_filters([params.get("label", "")] if labels is None else labels)
    errors = params.get("errors", "")
    if errors not in ("", "yes", "no"):
        raise BadParameterError("errors must be yes, no or empty")
    return SessionQuery(
        labels=parse_labels(labels),
        name=text("name", params.get("name")),
        since=parse_time("since", params.get("since")),
        until=parse_time("until", params.get("until")),
        model=text("model", params.get("model")),
        provider=text("provider", params.get("provider")),
        has_errors=None if not errors else errors == "yes",
        search=text("q", params.get("q")),
        scores=_score_filters(params.get("score", "")),
        limit=PAGE_SIZE,
        cursor=text("cursor", cursor),
    )


def _score_filters(value: str) -> tuple[ScoreFilter, ...]:
    """The Score field: filters of ``GET /v1/sessions``'s ``score``, separated by commas."""
    return parse_score_filters([item.strip() for item in value.split(",") if item.strip()])


@router.get("/")
async def sessions_page(request: Request) -> Response:
    """Sessions of the signed-in project, newest first, filtered and paged."""
    state = ui_state(request)
    sign_in = await _signed_in(request, state)
    if sign_in is None:
        return _to_sign_in()
    params = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    labels = [item for item in request.query_params.getlist("label") if item.strip()]
    if len(labels) > 1:
        params["label"] = ", ".join(label.strip() for label in labels)  # shown in the form
    cursor = request.query_params.get("cursor") or None
    storage = server_state(request).storage
    sessions: list[dict[str, Any]] = []
    next_url = None
    error = None
    try:
        query = session_query(params, cursor, labels)
        page = await run_in_threadpool(storage.sessions, sign_in.project_id, query)
    except ValueError as exc:  # BadParameterError, or a cursor the storage cannot read
        error = str(exc)
    else:
        sessions = page.sessions
        if page.next_cursor:
            kept = [(name, value) for name, value in params.items() if value and name != "label"]
            kept += [("label", label) for label in labels]
            next_url = "/ui/?" + urlencode([*kept, ("cursor", page.next_cursor)])
    filtered = any(params.values()) or cursor is not None
    return _render(
        request,
        state,
        "sessions.html",
        400 if error else 200,
        signed_in=True,
        sessions=sessions,
        show_scores=any(summary.get("score_summary") for summary in sessions),
        params=params,
        error=error,
        next_url=next_url,
        filtered=filtered,
    )


@router.get("/sessions/{session_id}")
async def session_page(request: Request, session_id: str) -> Response:
    """One session: its trace tree, waterfall and the detail of the chosen node."""
    state = ui_state(request)
    sign_in = await _signed_in(request, state)
    if sign_in is None:
        return _to_sign_in()
    storage = server_state(request).storage
    found = None
    if "\x00" not in session_id:
        found = await run_in_threadpool(storage.session_outline, sign_in.project_id, session_id)
    if found is None:
        return _render(request, state, "not_found.html", 404, signed_in=True)
    view = trace.outline_view(found)
    view["session_id"] = session_id
    return _render(
        request,
        state,
        "session.html",
        signed_in=True,
        session=found["session"],
        data_json=script_json(view),
        now=time.time(),
    )


@router.get("/sessions/{session_id}/nodes/{node_id}")
async def node_detail(request: Request, session_id: str, node_id: str) -> Response:
    """One node's detail as JSON, fetched by the session page when the node is shown.

    ``node_id`` is the node's id in the page: its event's stored key (the span id, when the
    event has one).

    A node of another project's session answers the same 404 as one that does not exist.
    """
    state = ui_state(request)
    sign_in = await _signed_in(request, state)
    if sign_in is None:
        return JSONResponse({"error": "not signed in"}, 401)
    storage = server_state(request).storage
    found = None
    if "\x00" not in session_id and "\x00" not in node_id:
        found = await run_in_threadpool(
            storage.session_event, sign_in.project_id, session_id, node_id
        )
    if found is None:
        return JSONResponse({"error": "no such node"}, 404)
    return Response(script_json(trace.event_detail(found)), media_type="application/json")


@router.get("/dashboard")
async def dashboard_page(request: Request) -> Response:
    """Call figures over time by group, and the costliest and slowest sessions."""
    state = ui_state(request)
    sign_in = await _signed_in(request, state)
    if sign_in is None:
        return _to_sign_in()
    values = dashboard.form_values(request.query_params)
    storage = server_state(request).storage
    figures = data_json = error = None
    try:
        query = dashboard.parse(values)
        figures = await run_in_threadpool(dashboard.load, storage, sign_in.project_id, query)
        data_json = script_json(dashboard.chart_data(query, figures))
    except ValueError as exc:  # BadParameterError, or a value the storage refuses
        error = str(exc)
    return _render(
        request,
        state,
        "dashboard.html",
        400 if error else 200,
        signed_in=True,
        values=values,
        figures=figures,
        data_json=data_json,
        error=error,
    )


@router.get("/compare")
async def compare_page(request: Request) -> Response:
    """Two sessions side by side: ``?a=<id>&b=<id>``, or two ``pick`` boxes of the sessions list."""
    state = ui_state(request)
    sign_in = await _signed_in(request, state)
    if sign_in is None:
        return _to_sign_in()
    picked = [value for value in request.query_params.getlist("pick") if value]
    if len(picked) == 2:
        return RedirectResponse("/ui/compare?" + urlencode({"a": picked[0], "b": picked[1]}), 303)
    ids = [request.query_params.get(side, "").strip() for side in ("a", "b")]
    if picked or not all(ids):
        error = f"Pick exactly two sessions to compare (you picked {len(picked)})."
        if not picked:
            error = "Give two sessions to compare: /ui/compare?a=<session id>&b=<session id>."
        return _render(request, state, "compare.html", 400, signed_in=True, error=error, ids=ids)
    storage = server_state(request).storage
    found = [
        await run_in_threadpool(storage.session, sign_in.project_id, session_id)
        if "\x00" not in session_id
        else None
        for session_id in ids
    ]
    first, second = found
    if first is None or second is None:
        return _render(request, state, "not_found.html", 404, signed_in=True)
    sessions = [first["session"], second["session"]]
    return _render(
        request,
        state,
        "compare.html",
        signed_in=True,
        error=None,
        ids=ids,
        sessions=sessions,
        totals=compare.totals(*sessions),
        compared=compare.compare(session_view(first), session_view(second)),
    )


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as JSON escapes, so no recorded string can close the
    script element or open a comment; U+2028 and U+2029 are escaped for old parsers.
    """
    encoded = json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)
    return (
        encoded.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
