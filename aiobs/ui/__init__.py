"""The web UI of the flush server: sign in with an API key, list sessions, read a trace.

``create_app`` mounts it (:func:`install`) at ``/ui/``, with ``/`` leading there. Pages are
server-rendered Jinja2 templates (autoescaped); the interactive parts are small dependency-free
scripts under ``static/``, shipped in the wheel. Every UI response carries a strict
Content-Security-Policy. See ``docs/ui.md``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from ..server.storage import Storage
from .headers import SecurityHeaders
from .routes import router
from .security import Signer, load_secret
from .state import HERE, LiveKeys, UiState, templates

__all__ = ["install"]


def install(app: FastAPI, storage: Storage) -> None:
    """Serve the UI from ``app``: pages under ``/ui/``, static files, ``/`` redirecting there.

    Raises:
        ValueError: ``AIOBS_UI_SECRET`` is set but too short.
    """
    driver = getattr(storage, "driver", None)
    database_file = getattr(driver, "path", None)
    file = database_file if isinstance(database_file, Path) else None
    signer = Signer(load_secret(file, storage.shared_ui_secret))
    app.state.aiobs_ui = UiState(signer=signer, templates=templates(), keys=LiveKeys(storage))
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.add_api_route("/", _home, methods=["GET"], include_in_schema=False)
    app.add_api_route("/ui", _home, methods=["GET"], include_in_schema=False)
    app.add_middleware(SecurityHeaders)


def _home() -> RedirectResponse:
    return RedirectResponse("/ui/", 307)
