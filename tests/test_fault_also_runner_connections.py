"""The extras of issue 8 ("Also: ..."): runner connections had no statement, lock or TCP
timeouts; handlers shared the runner's own pool; psycopg below 3.2.4 can lose
notifications."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

from fault_support import embedded

ROOT = Path(__file__).resolve().parents[1]


async def _settings(conn) -> dict[str, str]:
    names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
    cursor = await conn.execute("select name, setting from pg_settings where name = any(%s)", (list(names),))
    return dict(await cursor.fetchall())


def _no_zero(settings: dict[str, str], where: str) -> None:
    assert set(settings) == {"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"}
    assert all(int(value) > 0 for value in settings.values()), f"{where}: {settings}"


def _tcp(conn, where: str) -> None:
    params = conn.info.get_parameters()
    assert params.get("keepalives") == "1", f"{where}: {params}"
    assert int(params.get("tcp_user_timeout", "0")) > 0, f"{where}: {params}"
    assert int(params.get("connect_timeout", "0")) > 0, f"{where}: {params}"


def test_every_runner_connection_carries_statement_lock_idle_and_tcp_timeouts(dsn):
    async def main():
        async with embedded({"t": lambda payload, helpers: None}, dsn) as worker:
            async with worker.pool.connection() as conn:
                cursor = await conn.execute("show lock_timeout")
                lock_timeout = (await cursor.fetchone())[0]
                _no_zero(await _settings(conn), "the runner's pool")
                _tcp(conn, "the runner's pool")
            heartbeat = worker.lease.connection
            _no_zero(await _settings(heartbeat), "the heartbeat connection")  # serialised with beats
            _tcp(heartbeat, "the heartbeat connection")
            # the LISTEN connection is always waiting for notifications: its requested settings
            options = worker.listener.conn.info.get_parameters().get("options", "")
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
                assert f"-c {name}=" in options, options
            _tcp(worker.listener.conn, "the LISTEN connection")
        return lock_timeout

    assert asyncio.run(main()) not in ("0", "")


def test_handlers_connections_come_from_a_pool_apart_from_the_runners(dsn):
    used_by_jobs: list[str] = []
    seen: list[tuple[int, str]] = []

    async def handler(payload, helpers):
        async with helpers.connection() as conn:
            cursor = await conn.execute("select pg_backend_pid(), current_setting('application_name')")
            seen.append(await cursor.fetchone())

    async def main():
        async with embedded({"uses_db": handler}, dsn, concurrency=4) as worker:
            runner_pool = worker.pool
            for name in ("connection", "getconn"):
                original = getattr(runner_pool, name)

                def spy(*args, _original=original, _name=name, **kwargs):
                    task = asyncio.current_task()
                    if task is not None and task.get_name().startswith("job "):
                        used_by_jobs.append(f"{_name} from {task.get_name()}")
                    return _original(*args, **kwargs)

                setattr(runner_pool, name, spy)
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as app:
                await app.execute("select count(*) from pgrun.add_jobs(array(select row('uses_db', null, "
                                  "null, null, null, null, null, null, null, null)::pgrun.job_spec "
                                  "from generate_series(1, 20)))")
            deadline = asyncio.get_running_loop().time() + 10
            while len(seen) < 20 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
            handler_pool = await worker.handler_pool()
            assert handler_pool is not runner_pool
            return runner_pool.max_size

    runner_max = asyncio.run(main())
    assert len(seen) == 20
    assert used_by_jobs == [], used_by_jobs
    assert all(name != "pgrun" for _, name in seen), seen  # not the runner's connections
    assert runner_max <= 4  # the runner's own pool stays small, whatever the concurrency


def test_psycopg_3_2_4_or_later_is_required_and_installed():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [spec] = [Requirement(d) for d in project["project"]["dependencies"] if Requirement(d).name == "psycopg"]
    assert not spec.specifier.contains("3.2.3"), f"pyproject.toml allows psycopg 3.2.3: {spec}"
    assert spec.specifier.contains("3.2.4"), spec
    installed = Version(psycopg.__version__)
    assert installed >= Version("3.2.4") and spec.specifier.contains(installed), installed
