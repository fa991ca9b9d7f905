"""A private PostgreSQL cluster for tests that restart, crash or fail over the server:
initdb under a temporary directory, its own port on 127.0.0.1 and its own socket
directory, run as the OS user postgres with pg_ctl. Never the machine's shared server.

    with PrivateCluster() as cluster:          # initialised and started
        dsn = cluster.dsn("postgres")
        cluster.restart("immediate")           # a crash and recovery
        standby = cluster.standby()            # pg_basebackup -R, started, streaming
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"

# Fast and small: this is a test server on a shared machine. fsync off loses nothing when
# only PostgreSQL crashes (the kernel keeps what was written), which is what tests do.
BASE_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "64MB",
    "max_connections": "100",
    "superuser_reserved_connections": "3",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %a '",
    "logging_collector": "off",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(*args: str | os.PathLike, timeout: float = 120.0,
                check: bool = True) -> subprocess.CompletedProcess:
    """Runs a command as the OS user postgres (the tests run as root or as postgres)."""
    command = [str(a) for a in args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", OS_USER, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=check,
                          cwd="/tmp")


class Started:
    """`with X() as x:` starts x, and closes it at the end (or if starting failed)."""

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PrivateCluster(Started):
    def __init__(self, *, settings: dict[str, str] | None = None, root: Path | None = None,
                 port: int | None = None, init: bool = True) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="pgrun-cluster-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = port or free_port()
        self._owned_root = root is None
        self._standbys: list[PrivateCluster] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam(OS_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        if init:
            as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                        "--no-sync", "-E", "UTF8", "--locale=C")
            self.configure({**BASE_SETTINGS, **(settings or {})})

    # ---------------------------------------------------------------- settings

    def configure(self, settings: dict[str, str]) -> None:
        """Appends settings to postgresql.conf (later lines win); port and socket are ours."""
        lines = {**settings, "port": str(self.port), "unix_socket_directories": f"'{self.root}'"}
        text = "".join(f"{name} = {value}\n" for name, value in lines.items())
        as_postgres("sh", "-c", f"cat >> {self.data}/postgresql.conf <<'EOF'\n{text}EOF")

    def dsn(self, dbname: str = "postgres", **extra: str) -> str:
        parts = {"host": "127.0.0.1", "port": str(self.port), "user": "postgres", "dbname": dbname, **extra}
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=5, **kwargs)

    # ---------------------------------------------------------------- pg_ctl

    def pg_ctl(self, *args: str, timeout: float = 120.0) -> None:
        result = as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t",
                             str(int(timeout)), *args, timeout=timeout + 10, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed ({result.returncode}): "
                               f"{result.stdout}{result.stderr}\n{self.log_tail()}")

    def start(self) -> None:
        self.pg_ctl("start")
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        """pg_ctl restart: `fast` (clients cut, clean shutdown) or `immediate` (a crash, then
        recovery). Returns when the server accepts connections again."""
        self.pg_ctl("restart", "-m", mode)
        self.wait_ready()

    def promote(self) -> None:
        self.pg_ctl("promote")
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(psycopg.Error), self.connect() as conn:
                if not conn.execute("select pg_is_in_recovery()").fetchone()[0]:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby on {self.port} did not leave recovery\n{self.log_tail()}")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connect() as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ---------------------------------------------------------------- replication

    def standby(self) -> PrivateCluster:
        """A streaming standby of this (running) cluster: pg_basebackup -R into a new
        directory, on its own port, started. Closed with this cluster."""
        other = PrivateCluster(init=False)
        as_postgres(PG_BIN / "pg_basebackup", "-D", other.data, "-h", "127.0.0.1", "-p", str(self.port),
                    "-U", "postgres", "-X", "stream", "-R", "--no-sync", "-c", "fast")
        other.configure({"hot_standby": "on"})
        other.start()
        self._standbys.append(other)
        return other

    # ---------------------------------------------------------------- life

    def close(self) -> None:
        for standby in self._standbys:
            standby.close()
        if self.data.exists() and self.running:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        if self._owned_root:
            shutil.rmtree(self.root, ignore_errors=True)

