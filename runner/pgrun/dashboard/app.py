"""The dashboard's Starlette application (see the package's docstring). Every read is one of
pgrun's read functions and every action one of its admin functions, through the statements of
queries.py on a small pool of db.py's."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import db, queries
from ..fmt import duration
from ..queries import (
    COUNT_COLUMNS,
    LIST_JOB_COLUMNS,
    QUEUE_COLUMNS,
    SHOW_JOB_COLUMNS,
    THROUGHPUT_COLUMNS,
    WORKER_COLUMNS,
    WORKFLOW_COLUMNS,
    WORKFLOW_STEP_COLUMNS,
    column_names,
)
from ..workflows import graph_layout

HERE = Path(__file__).resolve().parent
COOKIE = "pgrun_dashboard_token"
STATES = ("scheduled", "available", "running", "retryable", "blocked", "completed", "failed", "cancelled")
# bad input the database refuses (an unknown state, a missing job): a 400 page, not a 500
_USAGE_STATES = {"22023", "22004", "P0002", "22003"}
_ACTIONS = {"retry": "retry_jobs", "cancel": "cancel_jobs", "remove": "complete_jobs"}


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded form's fields (the pages' forms are nothing else: no multipart parser needed)."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _ago(value: datetime | None) -> str:
    return "-" if value is None else duration((datetime.now(timezone.utc) - value).total_seconds())


class _Store:
    """The pool (opened on first use: a mounted app gets no lifespan) and the statements."""

    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.sql = queries.for_schema(schema)
        self._pool: db.AsyncConnectionPool | None = None
        self._lock = asyncio.Lock()

    async def rows(self, name: str, params: tuple = (), columns: tuple[str, ...] | None = None) -> list:
        async with self._lock:
            if self._pool is None:
                kwargs = db.connection_kwargs(conninfo=self.conninfo, application_name="pgrun dashboard")
                self._pool = await db.open_pool(self.conninfo, max_size=4, min_size=0, name="pgrun-dashboard",
                                                kwargs=kwargs)
        async with self._pool.connection() as conn:
            cursor = await conn.execute(getattr(self.sql, name), params)
            found = await cursor.fetchall()
        if columns is None:
            return found
        names = column_names(columns)
        return [dict(zip(names, row, strict=True)) for row in found]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def create_app(conninfo: str = "", schema: str = "pgrun", *, token: str | None = None,
               read_only: bool = False, hide_payloads: bool = False) -> Starlette:
    """The dashboard as an ASGI application. `token`: every page asks for it; `read_only`: no
    action buttons, and actions are refused; `hide_payloads`: payloads and results are not shown."""
    store = _Store(db.resolve_conninfo(conninfo), schema)
    csrf = secrets.token_urlsafe(16)  # forms carry it: a page of another site cannot post here
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
    env.filters.update(when=_when, ago=_ago, tojson_pretty=lambda v: json.dumps(v, indent=2, default=str))

    def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        base = request.scope.get("root_path", "")
        html = env.get_template(template).render(base=base, read_only=read_only, csrf=csrf,
                                                 hide_payloads=hide_payloads, states=STATES, **context)
        return HTMLResponse(html, status_code=status)

    def allowed(request: Request) -> bool:
        if token is None:
            return True
        given = (request.cookies.get(COOKIE)
                 or request.headers.get("authorization", "").removeprefix("Bearer "))
        return secrets.compare_digest(given.encode(), token.encode())

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            if not allowed(request):
                if request.headers.get("accept", "").startswith("text/html"):
                    return RedirectResponse(request.scope.get("root_path", "") + "/login", status_code=303)
                return PlainTextResponse("a token is needed (Authorization: Bearer TOKEN)", status_code=401)
            try:
                return await handler(request)
            except db.DatabaseError as error:
                message = " ".join(str(error).split("\n", 1)[0].split())
                if db.sqlstate(error) in _USAGE_STATES:
                    return page(request, "error.html", 400, message=message)
                raise
        return endpoint

    async def overview_data() -> dict:
        counts = await store.rows("job_counts", (False,), COUNT_COLUMNS)
        by_state = dict.fromkeys(STATES, 0)
        for row in counts:
            by_state[row["state"]] += row["jobs"]
        waiting = [r["waiting_since"] for r in counts if r["waiting_since"] is not None]
        minutes = await store.rows("job_throughput", (15,), THROUGHPUT_COLUMNS)
        per_minute: dict[datetime, list[int]] = {}
        for row in minutes:
            sums = per_minute.setdefault(row["minute"], [0, 0])
            sums[0] += row["completed"]
            sums[1] += row["retried"] + row["failed"]
        top = max([1] + [c + f for c, f in per_minute.values()])
        return {"by_state": by_state, "oldest": min(waiting) if waiting else None,
                "counted_at": counts[0]["counted_at"] if counts else None,
                "minutes": sorted(per_minute.items()), "top": top}

    async def overview(request: Request) -> Response:
        return page(request, "overview.html", **await overview_data())

    async def overview_fragment(request: Request) -> Response:
        return page(request, "_overview.html", **await overview_data())

    async def jobs(request: Request) -> Response:
        q = request.query_params
        filters = {name: (q.get(name) or None) for name in ("state", "task", "queue", "key", "payload")}
        before = int(q["before"]) if q.get("before", "").isdigit() else None
        params = (*(filters[name] for name in ("state", "task", "queue", "key", "payload")), before, 50)
        found = await store.rows("list_jobs", params, LIST_JOB_COLUMNS)
        after = found[-1]["id"] if len(found) == 50 else None
        next_url = None if after is None else "?" + urlencode({**{k: v for k, v in filters.items() if v},
                                                               "before": after})
        return page(request, "jobs.html", jobs=found, filters=filters, next_url=next_url)

    async def job_data(job_id: int) -> dict | None:
        found = await store.rows("show_job", (job_id,), SHOW_JOB_COLUMNS)
        if not found:
            return None
        state, reason, until = (await store.rows("explain_job", (job_id,)))[0]
        return {"job": found[0], "reason": reason, "until": until}

    async def job(request: Request) -> Response:
        data = await job_data(request.path_params["job_id"])
        if data is None:
            return page(request, "error.html", 404, message=f"no job {request.path_params['job_id']}")
        return page(request, "job.html", **data)

    async def job_fragment(request: Request) -> Response:
        data = await job_data(request.path_params["job_id"])
        if data is None:
            return page(request, "error.html", 404, message=f"no job {request.path_params['job_id']}")
        return page(request, "_job_state.html", **data)

    async def act(request: Request, statement: str, params: tuple, back: str) -> Response:
        if read_only:
            return PlainTextResponse("read-only dashboard: actions are off", status_code=403)
        form = await _form(request)
        if not secrets.compare_digest(str(form.get("csrf", "")), csrf):
            return PlainTextResponse("stale form: reload the page", status_code=403)
        await store.rows(statement, params)
        return RedirectResponse(request.scope.get("root_path", "") + back, status_code=303)

    async def job_action(request: Request) -> Response:
        job_id, action = request.path_params["job_id"], request.path_params["action"]
        if action not in _ACTIONS:
            return PlainTextResponse(f"unknown action {action}", status_code=404)
        params = (([job_id], None) if action == "cancel" else ([job_id],))
        return await act(request, _ACTIONS[action], params, f"/jobs/{job_id}")

    async def queue_action(request: Request) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ("pause", "resume"):
            return PlainTextResponse(f"unknown action {action}", status_code=404)
        return await act(request, f"{action}_queue", (name,), "/queues")

    async def queues_page(request: Request) -> Response:
        return page(request, "queues.html", queues=await store.rows("list_queues", (), QUEUE_COLUMNS))

    async def workers_page(request: Request) -> Response:
        return page(request, "workers.html", workers=await store.rows("list_workers", (), WORKER_COLUMNS))

    async def audit_page(request: Request) -> Response:
        return page(request, "audit.html", rows=await store.rows("audit_recent", (100,)))

    async def workflows_page(request: Request) -> Response:
        state = request.query_params.get("state") or None
        found = await store.rows("list_workflows", (state, 100, None), WORKFLOW_COLUMNS)
        return page(request, "workflows.html", workflows=found, state=state)

    async def workflow_page(request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        found = await store.rows("list_workflows", (None, 1, workflow_id), WORKFLOW_COLUMNS)
        if not found:
            return page(request, "error.html", 404, message=f"no workflow {workflow_id}")
        steps = await store.rows("workflow_steps", (workflow_id,), WORKFLOW_STEP_COLUMNS)
        return page(request, "workflow.html", workflow=found[0], steps=steps, graph=graph_layout(steps))

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return page(request, "login.html")
        form = await _form(request)
        given = str(form.get("token", ""))
        if token is None or not secrets.compare_digest(given.encode(), token.encode()):
            return page(request, "login.html", 401, refused=True)
        response = RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
        response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
        return response

    routes = [
        Route("/", guarded(overview)),
        Route("/fragments/overview", guarded(overview_fragment)),
        Route("/jobs", guarded(jobs)),
        Route("/jobs/{job_id:int}", guarded(job)),
        Route("/jobs/{job_id:int}/state", guarded(job_fragment)),
        Route("/jobs/{job_id:int}/{action}", guarded(job_action), methods=["POST"]),
        Route("/queues", guarded(queues_page)),
        Route("/queues/{name}/{action}", guarded(queue_action), methods=["POST"]),
        Route("/workers", guarded(workers_page)),
        Route("/audit", guarded(audit_page)),
        Route("/workflows", guarded(workflows_page)),
        Route("/workflows/{workflow_id:int}", guarded(workflow_page)),
        Route("/login", login, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.store = store
    return app
