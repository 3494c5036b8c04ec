"""Running ``aiobs ui``: the local viewer on a socket, its address printed and opened."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from .local import LocalViewer, is_loopback

NO_AUTH_WARNING = (
    "aiobs ui: WARNING: listening on {host}, which is not a loopback address: anyone who can "
    "reach it can read these traces, with no key and no sign-in"
)


def run(paths: Sequence[Path], host: str, port: int, *, open_browser: bool) -> int:
    """Serve the viewer over ``paths`` until interrupted; return the exit status.

    Raises:
        OSError: the address cannot be listened on.
    """
    if not is_loopback(host):
        print(NO_AUTH_WARNING.format(host=host), file=sys.stderr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    url = f"http://{shown_host}:{bound_port}/ui/"
    log = logging.getLogger("aiobs.server")
    if not log.handlers:  # files that cannot be read are logged: say so on the terminal
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    with LocalViewer(paths, host) as viewer:
        config = uvicorn.Config(viewer.app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        announce = threading.Thread(target=_announce, args=(server, url, open_browser), daemon=True)
        announce.start()
        # uvicorn stops gracefully on SIGTERM, then sends the signal again to the handler it
        # found: make that one end the program normally, so the temporary database is removed
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _exit) if main_thread else None
        try:
            server.run(sockets=[sock])
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)
            sock.close()
    return 0


def _exit(*_: object) -> None:
    raise SystemExit(0)


def _announce(server: uvicorn.Server, url: str, open_browser: bool) -> None:
    """Print the address once the server listens, and open it in a browser if asked."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    print(f"aiobs ui: {url} (Ctrl+C to stop)", flush=True)
    if open_browser and not webbrowser.open(url):
        print("aiobs ui: no browser found: open the address above", file=sys.stderr, flush=True)
