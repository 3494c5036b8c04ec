"""The ``aiobs`` command: run the flush server, manage its API keys, view flush files.

::

    aiobs server --db sqlite:///aiobs-server.db --port 8080 --workers 2
    aiobs keys create --tier pro --name ci        # prints the new key, once
    aiobs keys list
    aiobs keys revoke KEY_ID
    aiobs ui out/                                 # the web UI over flush files, no server
    aiobs report out/demo.json -o out/demo.html   # one self-contained HTML file
    aiobs eval out/demo.json --eval pii --eval regex:Paris   # exits 1 when an evaluation fails

The database is ``--db``, else ``$AIOBS_SERVER_DB``, else ``sqlite:///aiobs-server.db``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .server.config import (
    DEFAULT_DB,
    SERVER_DB,
    SERVER_MAX_EVENTS_PER_UPLOAD,
    default_max_events,
    describe_quotas,
    parse_quotas,
)
from .server.storage import TIERS, KeyRecord, Quotas, open_storage

SERVER_HINT = "aiobs server needs fastapi and uvicorn: pip install 'aiobs[server]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "server":
        _check_server_arguments(parser, args)
    try:
        quotas = Quotas(parse_quotas(args.quota), args.period) if args.command == "server" else None
    except ValueError as exc:
        parser.error(str(exc))
    try:
        status: int = args.run(args, quotas)
    except (ValueError, ImportError, OSError) as exc:
        print(f"aiobs: error: {exc}", file=sys.stderr)
        return 1
    return status


_POSITIVE = (
    "max_body_mb",
    "max_events_per_upload",
    "ingest_memory_mb",
    "timeout_headers",
    "timeout_body",
    "timeout_keep_alive",
    "max_connections",
    "timeout_graceful_shutdown",
)


def _check_server_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.max_events_per_upload is None:
        try:
            args.max_events_per_upload = default_max_events()
        except ValueError as exc:
            parser.error(str(exc))
    for name in _POSITIVE:
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.workers < 1:
        parser.error("--workers must be at least 1")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiobs", description="aiobs flush server and API keys.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    server = commands.add_parser("server", help="run the flush server")
    _add_db(server)
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=8080, help="port to listen on")
    server.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="TIER=N",
        help="traces per period for a tier (N or 'unlimited'); repeatable",
    )
    server.add_argument("--period", choices=("month", "day"), default="month")
    server.add_argument(
        "--max-body-mb", type=float, default=10.0, help="largest upload accepted, in MiB"
    )
    server.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (2 or more use more cores; see docs/server.md)",
    )
    server.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    _add_limits(server)
    server.set_defaults(run=_serve)

    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print it (once)")
    _add_db(create)
    create.add_argument("--tier", choices=TIERS, required=True)
    create.add_argument("--name", help="a note saying what the key is for")
    create.add_argument("--project", help="share the project of an existing key")
    create.set_defaults(run=_create_key)
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    _add_db(listing)
    listing.set_defaults(run=_list_keys)
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    _add_db(revoke)
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(run=_revoke_key)
    _add_local(commands)
    return parser


FILES_HELP = (
    "flush files (.json, .jsonl, or either gzipped: what FileExporter writes) or directories "
    "searched for them"
)


def _add_local(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``aiobs ui`` and ``aiobs report``: the web UI over flush files, with no server."""
    ui = commands.add_parser(
        "ui",
        help="browse flush files in the web UI, on this machine",
        description="Serve the web UI over flush files, with no key and no sign-in. New files "
        "in a directory, and files that grow, show at the next page load. See docs/ui.md.",
    )
    ui.add_argument("paths", nargs="+", type=Path, metavar="PATH", help=FILES_HELP)
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; another address lets anyone who can "
        "reach it read the traces, with no sign-in)",
    )
    ui.add_argument("--port", type=int, default=0, help="port to listen on (default: a free port)")
    ui.add_argument(
        "--no-browser",
        action="store_true",
        help="only print the address (by default it is also opened in a browser, the one "
        "named by $BROWSER when set)",
    )
    ui.set_defaults(run=_run_ui)
    report = commands.add_parser(
        "report",
        help="write flush files as one self-contained HTML file",
        description="Write the sessions of flush files, with their traces, into one HTML file "
        "that opens from disk in any browser and fetches nothing. See docs/ui.md.",
    )
    report.add_argument("paths", nargs="+", type=Path, metavar="PATH", help=FILES_HELP)
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("aiobs-report.html"),
        help="the HTML file to write (default: aiobs-report.html)",
    )
    report.set_defaults(run=_run_report)
    _add_eval(commands)


EVAL_HELP = (
    "an evaluator: regex:PATTERN, not-regex:PATTERN, pii, schema:FILE.json, ground-truth:TEXT, "
    "ground-truth:@FILE.json (inputs to expected outputs), latency:MAX_MS; repeatable"
)


def _add_eval(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``aiobs eval``: evaluators over the calls of flush files, as a CI gate."""
    command = commands.add_parser(
        "eval",
        help="run evaluators over the LLM calls and functions of flush files",
        description="Run evaluators over every LLM call and function result recorded in flush "
        "files and print a table of the results. Exits 1 when any evaluation failed or could "
        "not judge its input, 2 on bad arguments. See docs/guide.md, Evaluations.",
    )
    command.add_argument("paths", nargs="+", type=Path, metavar="FILE", help=FILES_HELP)
    command.add_argument(
        "--eval", dest="evals", action="append", required=True, metavar="SPEC", help=EVAL_HELP
    )
    command.add_argument("--json", action="store_true", help="print the results as JSON")
    command.set_defaults(run=_run_eval)


def _check_paths(paths: list[Path]) -> None:
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise ValueError(f"no such file or directory: {', '.join(missing)}")


def _run_ui(args: argparse.Namespace, _: Quotas | None) -> int:
    _check_paths(args.paths)
    if not 0 <= args.port <= 65535:
        raise ValueError("--port must be between 0 and 65535")
    try:
        from .ui import serve
    except ImportError:
        print(SERVER_HINT.replace("aiobs server", "aiobs ui"), file=sys.stderr)
        return 2
    return serve.run(args.paths, args.host, args.port, open_browser=not args.no_browser)


def _run_report(args: argparse.Namespace, _: Quotas | None) -> int:
    _check_paths(args.paths)
    try:
        from .ui import report
    except ImportError:
        print(SERVER_HINT.replace("aiobs server", "aiobs report"), file=sys.stderr)
        return 2
    written = report.write_report(args.paths, args.output)
    for problem in written.problems:
        print(f"aiobs report: skipped {problem}", file=sys.stderr)
    if not written.sessions and written.problems:
        print("aiobs: error: no file could be read; no report written", file=sys.stderr)
        return 1
    sessions = f"{written.sessions} session{'' if written.sessions == 1 else 's'}"
    print(f"wrote {args.output} ({sessions}, {written.size:,} bytes)", file=sys.stderr)
    return 1 if written.problems else 0


def _run_eval(args: argparse.Namespace, _: Quotas | None) -> int:
    from .evals.documents import evaluate, flush_files
    from .evals.specs import evaluator_from_spec

    try:
        evaluators = [evaluator_from_spec(spec) for spec in args.evals]
    except ValueError as exc:
        print(f"aiobs eval: error: {exc}", file=sys.stderr)
        return 2
    _check_paths(args.paths)
    files = flush_files(args.paths)
    if not files:
        raise ValueError("no flush files (.json, .jsonl, .json.gz, .jsonl.gz) in the paths given")
    results = [evaluation for path in files for evaluation in evaluate(path, evaluators)]
    rows = [
        {
            "file": evaluation.source,
            "session_id": evaluation.session_id,
            "span_id": evaluation.span_id,
            "kind": evaluation.kind,
            "name": evaluation.name,
            "eval": evaluation.result.eval_name,
            "status": evaluation.result.status.value,
            "score": evaluation.result.score,
            "message": evaluation.result.message,
        }
        for evaluation in results
    ]
    counts = {status: sum(row["status"] == status for row in rows) for status in _STATUSES}
    if args.json:
        print(json.dumps({"results": rows, "counts": counts}, indent=2))
    else:
        _print_eval_table(rows)
        summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
        print(f"{len(rows)} evaluations of {len(files)} file(s): {summary or 'nothing to judge'}")
    return 1 if counts["failed"] or counts["error"] else 0


_STATUSES = ("passed", "failed", "error", "skipped")


def _print_eval_table(rows: list[dict[str, Any]]) -> None:
    headers = ("SPAN", "CALL", "EVAL", "STATUS", "SCORE", "MESSAGE")
    table = [
        (
            row["span_id"] or "-",
            _cut(row["name"], 40),
            row["eval"],
            row["status"].upper(),
            f"{row['score']:.2f}",
            _cut((row["message"] or "").replace("\n", " "), 60),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [headers, *table]) for i in range(len(headers))]
    for line in [headers, *table]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _add_limits(server: argparse.ArgumentParser) -> None:
    """The options that bound uploads and connections (see docs/server.md, "Limits")."""
    limits = server.add_argument_group("limits (see docs/server.md)")
    limits.add_argument(
        "--max-events-per-upload",
        type=int,
        metavar="N",
        help=f"most events in one upload (default: ${SERVER_MAX_EVENTS_PER_UPLOAD} or 10000); "
        "the SDK splits larger flushes",
    )
    limits.add_argument(
        "--ingest-memory-mb",
        type=float,
        default=512.0,
        help="memory the uploads in progress may hold together, in MiB; beyond it uploads are "
        "answered 503 with Retry-After (default: 512)",
    )
    limits.add_argument(
        "--timeout-headers",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time a request's headers may take to arrive (default: 10)",
    )
    limits.add_argument(
        "--timeout-body",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="time an upload's body may take to arrive after its headers (default: 60)",
    )
    limits.add_argument(
        "--timeout-keep-alive",
        type=int,
        default=5,
        metavar="SECONDS",
        help="time an idle keep-alive connection stays open (default: 5)",
    )
    limits.add_argument(
        "--max-connections",
        type=int,
        default=1000,
        metavar="N",
        help="connections open at once per worker; beyond it the longest idle is closed "
        "(default: 1000, fewer if ulimit -n leaves less room)",
    )
    limits.add_argument(
        "--timeout-graceful-shutdown",
        type=int,
        default=30,
        metavar="SECONDS",
        help="time the requests in flight get to finish when the server stops (default: 30)",
    )


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get(SERVER_DB) or DEFAULT_DB,
        help=f"sqlite:///path.db or postgresql://... (default: ${SERVER_DB} or {DEFAULT_DB})",
    )


def _serve(args: argparse.Namespace, quotas: Quotas) -> int:
    try:
        import fastapi  # noqa: F401 - the server extra, checked here to say what to install
        import uvicorn  # noqa: F401

        from .server import workers
    except ImportError:
        print(SERVER_HINT, file=sys.stderr)
        return 2
    open_storage(args.db, quotas).close()  # migrate once, before any worker starts
    max_body = int(args.max_body_mb * 1024 * 1024)
    settings = workers.ServerSettings(
        db=args.db,
        quota_limits=dict(quotas.limits),
        period=quotas.period,
        max_body_bytes=max_body,
        max_document_bytes=max(max_body * 10, 1),
        log_level=args.log_level,
        workers=args.workers,
        max_events_per_upload=args.max_events_per_upload,
        body_timeout=args.timeout_body,
        ingest_memory_bytes=max(int(args.ingest_memory_mb * 1024 * 1024), 1),
        header_timeout=args.timeout_headers,
        keep_alive_timeout=args.timeout_keep_alive,
        max_connections=args.max_connections,
        graceful_shutdown_timeout=args.timeout_graceful_shutdown,
    )
    processes = f", {args.workers} workers" if args.workers > 1 else ""
    print(
        f"aiobs server on http://{args.host}:{args.port} with {_safe_url(args.db)}{processes}; "
        f"quotas per {quotas.period}: {describe_quotas(quotas.limits)}",
        file=sys.stderr,
    )
    return workers.run(settings, args.host, args.port)


def _create_key(args: argparse.Namespace, _: Quotas | None) -> int:
    storage = open_storage(args.db)
    try:
        new = storage.create_key(args.tier, name=args.name, project_id=args.project)
    finally:
        storage.close()
    record = new.record
    print(new.secret)
    print(
        f"created key {record.key_id} (tier {record.tier}, project {record.project_id}); "
        "it is shown only now: store it safely",
        file=sys.stderr,
    )
    return 0


def _list_keys(args: argparse.Namespace, _: Quotas | None) -> int:
    storage = open_storage(args.db)
    try:
        records = storage.list_keys()
    finally:
        storage.close()
    rows = [("KEY ID", "PROJECT", "TIER", "NAME", "CREATED", "REVOKED")]
    rows += [_row(record) for record in records]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


def _row(record: KeyRecord) -> tuple[str, str, str, str, str, str]:
    return (
        record.key_id,
        record.project_id,
        record.tier,
        record.name or "-",
        _when(record.created_at),
        _when(record.revoked_at) if record.revoked_at is not None else "-",
    )


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _revoke_key(args: argparse.Namespace, _: Quotas | None) -> int:
    storage = open_storage(args.db)
    try:
        revoked = storage.revoke_key(args.key_id)
    finally:
        storage.close()
    if not revoked:
        print(f"aiobs: no key with id {args.key_id!r}", file=sys.stderr)
        return 1
    print(f"revoked key {args.key_id}", file=sys.stderr)
    return 0


def _safe_url(url: str) -> str:
    """``url`` without a password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
