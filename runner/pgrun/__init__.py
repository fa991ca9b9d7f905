"""pgrun: a PostgreSQL job queue for Python, with its rules in PL/pgSQL."""

__version__ = "0.1.0"

from .api import make_worker, run, run_async, run_once, run_once_async  # noqa: E402
from .errors import PgrunError, SchemaTooNew  # noqa: E402
from .events import Event, Events  # noqa: E402
from .helpers import Helpers, SyncHelpers  # noqa: E402
from .job import Job, JobKeyMode, JobSpec  # noqa: E402
from .migrate import migrate  # noqa: E402
from .tasks import load_tasks, task  # noqa: E402
from .utils import AsyncWorkerUtils, WorkerUtils, add_job, add_job_async, add_jobs, add_jobs_async  # noqa: E402
from .worker import Worker, WorkerStats  # noqa: E402

__all__ = [
    "AsyncWorkerUtils", "Event", "Events", "Helpers", "Job", "JobKeyMode", "JobSpec", "PgrunError",
    "SchemaTooNew", "SyncHelpers", "Worker", "WorkerStats", "WorkerUtils", "__version__", "add_job",
    "add_job_async", "add_jobs", "add_jobs_async", "load_tasks", "make_worker", "migrate", "run",
    "run_async", "run_once", "run_once_async", "task",
]
