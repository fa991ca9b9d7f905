"""pgrun: a PostgreSQL job queue for Python, with its rules in PL/pgSQL."""

from .aging import PriorityAging
from .api import make_worker, run, run_async, run_once, run_once_async
from .control import Explanation
from .errors import PermanentFailure, PgrunError, RateLimited, SchemaTooNew, Snooze, WorkerRestartRequired
from .events import Event, Events
from .helpers import Helpers, SyncHelpers
from .job import Job, JobKeyMode, JobSpec
from .middleware import JobContext, Middleware, correlate, current_job
from .migrate import migrate
from .results import (
    JobResult,
    WaitTimeout,
    get_result,
    get_result_async,
    unwatch_jobs,
    unwatch_jobs_async,
    wait_for,
    wait_for_async,
    watch_jobs,
    watch_jobs_async,
)
from .retry import RetryPolicy, custom, exponential, fixed, linear
from .tasks import load_tasks, task
from .typed import InvalidPayload, TaskRef, task_ref
from .utils import AsyncWorkerUtils, WorkerUtils, add_job, add_job_async, add_jobs, add_jobs_async
from .version import __version__
from .worker import Worker, WorkerStats

__all__ = [
    "AsyncWorkerUtils", "Event", "Events", "Explanation", "Helpers", "InvalidPayload", "Job", "JobKeyMode",
    "JobResult", "TaskRef", "task_ref", "JobContext", "Middleware", "correlate", "current_job",
    "RetryPolicy", "custom", "exponential", "fixed", "linear",
    "JobSpec", "PermanentFailure", "PgrunError", "PriorityAging", "RateLimited", "Snooze",
    "WorkerRestartRequired", "WaitTimeout",
    "get_result", "get_result_async", "unwatch_jobs", "unwatch_jobs_async",
    "wait_for", "wait_for_async", "watch_jobs", "watch_jobs_async",
    "SchemaTooNew", "SyncHelpers", "Worker", "WorkerStats", "WorkerUtils", "__version__", "add_job",
    "add_job_async", "add_jobs", "add_jobs_async", "load_tasks", "make_worker", "migrate", "run",
    "run_async", "run_once", "run_once_async", "task",
]
