"""``aiobs ui PATH...``: the web UI over flush files, on this machine, with no key and no sign-in.

The files are loaded into a storage of the server's own kind (SQLite in a temporary directory,
through the same document parser as uploads) under one local project, and the server's UI is
served over it in its local mode (:attr:`UiState.local_project`): every page shows that project,
with no sign-in. Before each page the files are looked at again (at most once a second): a new
file in a watched directory, or a file that changed (JSON Lines grow at every flush), is loaded;
loading is idempotent, since the storage keeps one copy of each event. A file that cannot be read
is named in a banner on every page and in the log; the others are shown all the same.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..server.app import create_app
from ..server.storage import KeyRecord, Quotas, Storage, open_storage
from .files import flush_files, read_document
from .state import UiState

logger = logging.getLogger("aiobs.server")

LOCAL_TIER = "enterprise"
"""The tier of the local project's key: one without a quota."""
REFRESH_SECONDS = 1.0
"""Files are looked at again at most this often."""


class LocalFiles:
    """The flush files under some paths, loaded into ``storage`` as they appear or change."""

    def __init__(
        self,
        paths: Sequence[Path],
        storage: Storage,
        key: KeyRecord,
        *,
        interval: float = REFRESH_SECONDS,
        log_problems: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paths = list(paths)
        self._storage = storage
        self._key = key
        self._interval = interval
        self._log_problems = log_problems
        self._clock = clock
        self._seen: dict[Path, tuple[int, int]] = {}
        self._problems: dict[Path, str] = {}
        self._next = float("-inf")
        self._lock = threading.Lock()

    def refresh(self, *, force: bool = False) -> None:
        """Load the files that are new or changed since the last look (at most once a second)."""
        with self._lock:
            if not force and self._clock() < self._next:
                return
            for given in self.paths:
                try:
                    found = flush_files([given])
                except OSError as exc:  # a directory that cannot be listed
                    self._problem(given, f"{given}: cannot be read ({exc.strerror or exc})")
                    continue
                for path in found:
                    self._load(path)
            self._next = self._clock() + self._interval

    def problems(self) -> list[str]:
        """What is wrong with each file that could not be read, in path order."""
        return [self._problems[path] for path in sorted(self._problems)]

    def _load(self, path: Path) -> None:
        try:
            stat = path.stat()
        except OSError as exc:
            self._problem(path, f"{path}: cannot be read ({exc.strerror or exc})")
            return
        version = (stat.st_mtime_ns, stat.st_size)
        if self._seen.get(path) == version:
            return
        self._seen[path] = version
        try:
            document = read_document(path)
            self._storage.ingest(self._key, document, None)
        except ValueError as exc:  # UnreadableFile, InvalidDocument
            message = str(exc)
            self._problem(path, message if message.startswith(str(path)) else f"{path}: {message}")
            return
        except Exception as exc:  # noqa: BLE001 - one odd file (say nested too deep) must not stop the others
            self._problem(path, f"{path}: cannot be loaded ({type(exc).__name__}: {exc})")
            return
        if self._problems.pop(path, None) is not None and self._log_problems:
            logger.info("aiobs ui: %s is readable again", path)

    def _problem(self, path: Path, message: str) -> None:
        if self._log_problems and self._problems.get(path) != message:
            logger.warning("aiobs ui: %s", message)
        self._problems[path] = message


class _Refresh:
    """ASGI middleware: files looked at again before each page; other hosts refused.

    A page asked for under another host name than the viewer's is refused, so that a web site
    cannot read the viewer through a name of its own that resolves to 127.0.0.1.
    """

    def __init__(self, app: ASGIApp, files: LocalFiles, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.files = files
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the host, refresh the files before a page, then serve the request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.hosts is not None:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            if host.rsplit(":", 1)[0] not in self.hosts:
                refused = PlainTextResponse(
                    "This aiobs ui viewer answers only on its own address.", status_code=421
                )
                await refused(scope, receive, send)
                return
        path = scope.get("path", "")
        if path.startswith("/ui") and not path.startswith("/ui/static/"):
            await run_in_threadpool(self.files.refresh)
        await self.app(scope, receive, send)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LocalViewer:
    """The local viewer's app, its storage (in a temporary directory) and its files.

    ::

        with LocalViewer([Path("out")]) as viewer:
            uvicorn.run(viewer.app, host="127.0.0.1", port=8765)
    """

    def __init__(self, paths: Sequence[Path], host: str = "127.0.0.1") -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="aiobs-ui-")
        self.storage = open_storage(
            f"sqlite:///{self._directory.name}/local.db", Quotas({LOCAL_TIER: None})
        )
        key = self.storage.create_key(LOCAL_TIER, name="aiobs ui").record
        self.files = LocalFiles(paths, self.storage, key)
        self.files.refresh(force=True)
        app = create_app(self.storage)
        state: UiState = app.state.aiobs_ui
        state.templates.globals["local_problems"] = self.files.problems
        state.templates.globals["local_paths"] = [str(path) for path in self.files.paths]
        app.state.aiobs_ui = dataclasses.replace(state, local_project=key.project_id)
        hosts = frozenset({"127.0.0.1", "localhost", "[::1]", host.lower()})
        app.add_middleware(_Refresh, files=self.files, hosts=hosts if is_loopback(host) else None)
        self.app: FastAPI = app

    def close(self) -> None:
        """Close the storage and remove its temporary directory."""
        self.storage.close()
        self._directory.cleanup()

    def __enter__(self) -> LocalViewer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
