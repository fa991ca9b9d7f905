"""A private PgBouncer for tests: Debian's pgbouncer with its own ini, port and socket
directory under a temporary directory, run as the OS user postgres in the foreground
(a child of the test), stopped and removed at the end.

    with PgBouncer(pool_mode="transaction") as bouncer:
        dsn = bouncer.dsn(direct_dsn)      # the same database, through PgBouncer
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from .cluster import OS_USER, Started, free_port

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


class PgBouncer(Started):
    def __init__(self, *, server_host: str = "127.0.0.1", server_port: int = 5432,
                 pool_mode: str = "transaction", pool_size: int = 20) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pgrun-bouncer-"))
        self.port = free_port()
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        (self.root / "pgbouncer.ini").write_text(f"""\
[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir = {self.root}
auth_type = trust
auth_file = {self.root}/userlist.txt
admin_users = postgres
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 500
logfile = {self.root}/pgbouncer.log
pidfile = {self.root}/pgbouncer.pid
""")
        if os.geteuid() == 0:   # pgbouncer refuses to run as root
            user = pwd.getpwnam(OS_USER)
            for path in (self.root, *self.root.iterdir()):
                os.chown(path, user.pw_uid, user.pw_gid)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [BINARY, str(self.root / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command = ["runuser", "-u", OS_USER, "--", *command]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd="/tmp")
        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(self.dsn("host=127.0.0.1 user=postgres dbname=postgres"),
                                     autocommit=True, connect_timeout=2, prepare_threshold=None) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not start:\n{self.log()}") from None
                time.sleep(0.05)

    def dsn(self, dsn: str) -> str:
        """`dsn` with its host and port replaced by PgBouncer's."""
        params = psycopg.conninfo.conninfo_to_dict(dsn)
        params.update(host="127.0.0.1", port=str(self.port))
        return psycopg.conninfo.make_conninfo(**params)

    def show(self, what: str) -> str:
        """The admin console's SHOW (simple query protocol only: psql, not psycopg)."""
        return subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                               "-d", "pgbouncer", "-c", f"show {what}"], capture_output=True, text=True,
                              check=True, timeout=20).stdout

    def log(self) -> str:
        try:
            return (self.root / "pgbouncer.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):   # pgbouncer itself, under runuser
            os.kill(int((self.root / "pgbouncer.pid").read_text().split()[0]), signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(10)     # runuser exits with its child
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
