"""A throwaway PostgreSQL server for the storage tests and the server benchmark.

Starts PostgreSQL's server binaries (Debian's, which ``make postgres`` installs, or ``initdb``
on ``PATH``) on 127.0.0.1 and a free port, with a data directory in a temporary folder that is
removed afterwards. As root, the server runs as the ``postgres`` user, since ``initdb`` refuses
root. fsync is off: the data is thrown away, and durability is not what is being measured or
tested.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

INSTALL_HINT = "install postgresql (sudo apt-get install postgresql) or run `make test` as root"
REQUIRE_VARIABLE = "AIOBS_REQUIRE_POSTGRES"


class PostgresNotInstalledError(RuntimeError):
    """PostgreSQL's server binaries are not on this machine."""


def binaries() -> str:
    """The directory of ``initdb`` and ``pg_ctl``.

    Raises:
        PostgresNotInstalledError: neither Debian's binaries nor ``initdb`` on ``PATH`` were found
            (the message says how to install them).
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    on_path = shutil.which("initdb")
    if on_path:
        return os.path.dirname(on_path)
    raise PostgresNotInstalledError(f"initdb (PostgreSQL's server) not found; {INSTALL_HINT}")


def missing() -> str | None:
    """Why the tests that need PostgreSQL cannot run here, or ``None`` when they can.

    Raises:
        PostgresNotInstalledError: PostgreSQL is missing and ``AIOBS_REQUIRE_POSTGRES=1`` (as in
            CI), where its tests must fail rather than be skipped.
    """
    try:
        binaries()
    except PostgresNotInstalledError as error:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            raise PostgresNotInstalledError(f"{error} ({REQUIRE_VARIABLE}=1)") from None
        return f"PostgreSQL tests skipped: {error}"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """Run a PostgreSQL server; yield its URL (database ``postgres``, user ``postgres``)."""
    bin_dir = binaries()
    data = tempfile.mkdtemp(prefix="aiobs-pg-")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = free_port()
    pg_ctl = os.path.join(bin_dir, "pg_ctl")
    initdb = [os.path.join(bin_dir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust"]
    initdb += ["-E", "UTF8", "--no-locale", "--no-sync"]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off"
    options += " -c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
    try:
        subprocess.run(_as_owner(initdb), check=True, capture_output=True)
        start = [pg_ctl, "-D", data, "-l", os.path.join(data, "log"), "-w", "-o", options, "start"]
        subprocess.run(_as_owner(start), check=True, capture_output=True)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            stop = [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"]
            subprocess.run(_as_owner(stop), check=False, capture_output=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)
