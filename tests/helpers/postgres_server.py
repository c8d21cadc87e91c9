"""A real PostgreSQL server for tests: ``initdb`` into a temporary directory, ``pg_ctl start`` on 127.0.0.1.

PostgreSQL refuses to run as root, so under root the data directory is
chowned to the ``postgres`` user (Debian's package creates it) and the
binaries run through ``runuser``. The server listens on a free loopback port
with its unix socket in the same temporary directory, fsync off (tests only).

``shared_postgres()`` starts one server per test process and stops it at
exit; ``fresh_database(server)`` creates an empty database for one test.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) are not installed: the store tests run on a real PostgreSQL; "
    ".ci/run must install Debian's postgresql package (it is listed in APT_PACKAGES)"
)


def postgres_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (Debian's versioned path first), or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key, reverse=True)
    for initdb in candidates:
        return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parent.parent.name
    return tuple(int(p) for p in part.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningPostgres:
    """A started server; ``admin_url`` connects to its ``postgres`` database as the superuser."""

    bindir: Path
    datadir: Path
    port: int
    user: str
    as_user: list[str]

    @property
    def admin_url(self) -> str:
        """URL of the maintenance database."""
        return self.url("postgres")

    def url(self, database: str) -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for ``database`` on this server."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir / "data"), "-m", "fast", "stop"],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.datadir, ignore_errors=True)


def start_postgres() -> RunningPostgres:
    """Initialise and start a throw-away server; raise RuntimeError with its log when it does not start."""
    bindir = postgres_bindir()
    if bindir is None:
        raise FileNotFoundError(MISSING)
    base = Path(tempfile.mkdtemp(prefix="shieldwall-pg-"))
    as_user: list[str] = []
    user = os.environ.get("USER", "") or "postgres"
    if os.geteuid() == 0:
        import pwd

        try:
            entry = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise FileNotFoundError(MISSING + " (no postgres user)") from exc
        os.chown(base, entry.pw_uid, entry.pw_gid)
        base.chmod(0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
        user = "postgres"
    data = base / "data"
    init = subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    last = ""
    for _attempt in range(3):
        port = _free_port()
        options = (
            f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100"
        )
        log = base / "server.log"
        start = subprocess.run(
            [
                *as_user,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=90,
        )
        if start.returncode == 0:
            server = RunningPostgres(bindir, base, port, user, as_user)
            _wait_ready(server)
            return server
        last = start.stderr + (log.read_text(errors="replace")[-2000:] if log.exists() else "")
    shutil.rmtree(base, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start: {last}")


def _wait_ready(server: RunningPostgres, seconds: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + seconds
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=server.port, user=server.user, dbname="postgres"):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


_SHARED: RunningPostgres | None = None


def shared_postgres() -> RunningPostgres:
    """One server per test process, stopped when the process exits."""
    global _SHARED
    if _SHARED is None:
        _SHARED = start_postgres()
        atexit.register(_SHARED.stop)
    return _SHARED


def fresh_database(server: RunningPostgres, prefix: str = "t") -> str:
    """Create an empty database; return its name."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host="127.0.0.1", port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(server: RunningPostgres, name: str) -> None:
    """Drop a test database, closing what still holds it."""
    import psycopg

    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(
            host="127.0.0.1", port=server.port, user=server.user, dbname="postgres", autocommit=True
        ) as conn,
    ):
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
