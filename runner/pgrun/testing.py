"""A pytest plugin for testing a project's tasks against a real PostgreSQL.

In the project's top-level conftest.py, and its pytest configuration:

    pytest_plugins = ["pgrun.testing"]

    [tool.pytest.ini_options]
    pgrun_tasks = "myapp.tasks"        # what pgrun_jobs runs (or override the pgrun_tasks fixture)

Then a test is three lines:

    def test_signup_sends_a_welcome_email(pgrun_jobs):
        signup(pgrun_jobs.connection, "ada@example.com")      # the application enqueues
        pgrun_jobs.assert_enqueued("emails.send", payload={"to": "ada@example.com"})
        assert pgrun_jobs.run_once().completed == 1

Fixtures:
- `pgrun_dsn`: the connection string of a fresh database with pgrun installed, for this test
  (cloned from a template migrated once per session, dropped after the test). The server is
  the ini option `pgrun_database_url`, else PGRUN_TEST_DATABASE_URL, else DATABASE_URL, else
  libpq's PG* variables.
- `pgrun_tasks`: the task source (a module name, a module or a dict); `pgrun_tasks` in the ini.
- `pgrun_jobs`: a `PgrunJobs` on that database: `add_job`, `run_once`, `inline()`,
  `enqueued`, `assert_enqueued`, `assert_not_enqueued`, `jobs`, `connection`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from . import api, db, enqueue, payloads, queries
from .job import Job
from .middleware import current_job
from .migrate import migrate
from .tasks import TaskSource
from .utils import WorkerUtils
from .worker import WorkerStats

PENDING = ("scheduled", "available", "running", "retryable")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("pgrun_tasks", "the task module pgrun_jobs runs (e.g. myapp.tasks)", default="")
    parser.addini("pgrun_schema", "the schema pgrun is installed in (default pgrun)", default="pgrun")
    parser.addini("pgrun_database_url", "the server test databases are made on (default: "
                  "PGRUN_TEST_DATABASE_URL, DATABASE_URL, then libpq's PG* variables)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pgrun_inline: pgrun_jobs runs each job as soon as it is added")


def _server(config: pytest.Config) -> str:
    return (config.getini("pgrun_database_url") or os.environ.get("PGRUN_TEST_DATABASE_URL")
            or os.environ.get("DATABASE_URL") or "")


@pytest.fixture(scope="session")
def pgrun_template(pytestconfig: pytest.Config) -> Iterator[str]:
    """The name of a database migrated once for the session, the template of each test's."""
    server = db.with_dbname(_server(pytestconfig), "postgres")
    name = f"pgrun_template_{os.getpid()}"
    db.drop_database(server, name)
    db.create_database(server, name)
    try:
        with db.connect(db.with_dbname(server, name)) as conn:
            migrate(conn, pytestconfig.getini("pgrun_schema"))
        yield name
    finally:
        db.drop_database(server, name)


@pytest.fixture
def pgrun_dsn(pytestconfig: pytest.Config, pgrun_template: str) -> Iterator[str]:
    server = db.with_dbname(_server(pytestconfig), "postgres")
    name = f"pgrun_test_{os.getpid()}_{next(_numbers)}"
    db.create_database(server, name, template=pgrun_template)
    try:
        yield db.with_dbname(server, name)
    finally:
        db.drop_database(server, name)


_numbers = iter(range(1, 1 << 62))


@pytest.fixture
def pgrun_tasks(pytestconfig: pytest.Config) -> TaskSource:
    source = pytestconfig.getini("pgrun_tasks")
    if not source:
        raise pytest.UsageError("pgrun.testing: say which tasks to run: pgrun_tasks = myapp.tasks in the "
                                "pytest configuration, or override the pgrun_tasks fixture")
    return source


@pytest.fixture
def pgrun_jobs(request: pytest.FixtureRequest, pgrun_dsn: str,
               pgrun_tasks: TaskSource) -> Iterator[PgrunJobs]:
    jobs = PgrunJobs(pgrun_dsn, pgrun_tasks, schema=request.config.getini("pgrun_schema"))
    if request.node.get_closest_marker("pgrun_inline"):
        jobs.inline_mode = True
    enqueue.listeners.append(jobs._added)
    try:
        yield jobs
    finally:
        enqueue.listeners.remove(jobs._added)
        jobs.close()


class PgrunJobs:
    """What a test does with jobs: add them, run them, and look at what was enqueued."""

    def __init__(self, dsn: str, tasks: TaskSource, *, schema: str = "pgrun") -> None:
        self.dsn, self.tasks, self.schema = dsn, tasks, schema
        self.utils = WorkerUtils(dsn, schema=schema)
        self.inline_mode = False
        self.last_run: WorkerStats | None = None   # of the latest run (run_once, or an inline one)
        self._added_jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._queries = queries.for_schema(schema)

    @property
    def connection(self):
        """An autocommit psycopg connection to the test's database (for the application's code)."""
        return self.utils.connection

    def add_job(self, identifier: Any, payload: Any = None, **options: Any) -> Job:
        return self.utils.add_job(identifier, payload, **options)

    def run_once(self, **options: Any) -> WorkerStats:
        """Runs every job that is runnable now (and what they add), then returns what happened.
        Works in async tests too (the worker gets a thread and a loop of its own)."""
        options = {"connection": self.dsn, "schema": self.schema, "run_migrations": False, **options}
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["stats"] = asyncio.run(api.run_once_async(self.tasks, **options))
            except BaseException as error:   # raised again in the test's thread
                outcome["error"] = error
        thread = threading.Thread(target=run, name="pgrun-testing-run-once")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        self.last_run = outcome["stats"]
        return self.last_run

    @contextlib.contextmanager
    def inline(self) -> Iterator[PgrunJobs]:
        """Inside the block, each job added from Python runs as soon as add_job returns (its outcome
        in `last_run`). A job added inside an open transaction cannot run before its commit: it
        runs at the next run_once."""
        before, self.inline_mode = self.inline_mode, True
        try:
            yield self
        finally:
            self.inline_mode = before

    def _added(self, conn: Any, job: Job) -> None:
        with self._lock:
            self._added_jobs[job.id] = job
        if self.inline_mode and current_job() is None and not db.in_transaction(conn):
            self.run_once()   # (a job added by a running job is run by that same run)

    def jobs(self, task: str | None = None, states: tuple[str, ...] | None = None) -> list[Job]:
        """The jobs in the database now (completed ones are gone unless retention keeps them)."""
        wanted = None if states is None else list(states)
        rows = self.utils.connection.execute(self._queries.task_jobs, (task, task, wanted, wanted)).fetchall()
        return enqueue.jobs_of(rows)

    def enqueued(self, task: str | None = None) -> list[Job]:
        """Jobs added during this test from Python (as they were added, even if they have run since),
        and the pending jobs in the database (added by SQL, triggers, cron), by id."""
        found = {job.id: job for job in self.jobs(task, PENDING)}
        with self._lock:
            for job in self._added_jobs.values():
                if task is None or job.task_identifier == task:
                    found.setdefault(job.id, job)
        return [found[i] for i in sorted(found)]

    def assert_enqueued(self, task: str, payload: Any = ..., *, count: int | None = None) -> list[Job]:
        """The jobs of `task` enqueued (with this payload, if given: a dict, a model, ...); fails
        the test, saying what was enqueued, unless there is one (or exactly `count`)."""
        jobs = self.enqueued(task)
        matching = jobs if payload is ... else [j for j in jobs if j.payload == _as_json(payload)]
        if (count is None and not matching) or (count is not None and len(matching) != count):
            wanted = "a job" if count is None else f"{count} job(s)"
            what = "" if payload is ... else f" with payload {_as_json(payload)!r}"
            seen = ", ".join(f"{j.id}: {j.payload!r}" for j in jobs) or "none"
            raise AssertionError(f"expected {wanted} of task {task!r}{what}; found {len(matching)}. "
                                 f"Jobs of {task!r} enqueued: {seen}")
        return matching

    def assert_not_enqueued(self, task: str) -> None:
        jobs = self.enqueued(task)
        if jobs:
            raise AssertionError(f"expected no job of task {task!r}; found {len(jobs)}: "
                                 + ", ".join(f"{j.id}: {j.payload!r}" for j in jobs))

    def close(self) -> None:
        self.utils.close()


def _as_json(payload: Any) -> Any:
    """A payload as the database stores it (models and dataclasses as their JSON)."""
    return payloads.decode_all([payloads.encode(payload)])[0]
