"""The dashboard's Starlette application (see the package's docstring). Every read is one of
pgrun's read functions and every action one of its admin functions (so it lands in the audit
log), through the statements of queries.py on store.py's pool.

Live updates: a page polls its own URL with htmx; a request that htmx sends (`HX-Request`)
gets only the page's fragment (`_<page>.html`), so there is one handler per page and one
query per refresh."""

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

from .. import db
from ..fmt import duration
from ..queries import (
    COUNT_COLUMNS,
    LIMIT_COLUMNS,
    LIST_JOB_COLUMNS,
    QUEUE_COLUMNS,
    SHOW_JOB_COLUMNS,
    THROUGHPUT_COLUMNS,
    WORKER_COLUMNS,
    WORKFLOW_COLUMNS,
    WORKFLOW_STEP_COLUMNS,
)
from ..workflows import graph_layout
from . import auth
from .charts import bar_chart, per_minute
from .store import Store
from .timeline import job_timeline

HERE = Path(__file__).resolve().parent
COOKIE = auth.COOKIE
STATES = ("scheduled", "available", "running", "retryable", "blocked", "completed", "failed", "cancelled")
# bad input the database refuses (an unknown state, a missing job): a 400 page, not a 500
_USAGE_STATES = {"22023", "22004", "P0002", "22003"}
_ACTIONS = {"retry": "retry_jobs", "cancel": "cancel_jobs", "remove": "remove_jobs"}
PAGE_SIZE = 50
CHART_MINUTES = 30
BULK_MAX = 1000  # list_jobs' own page limit: a bulk action acts on what one page can show


async def _form(request: Request) -> dict[str, list[str]]:
    """An url-encoded form's fields (the pages' forms are nothing else: no multipart parser needed)."""
    return parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _ago(value: datetime | None) -> str:
    return "-" if value is None else duration((datetime.now(timezone.utc) - value).total_seconds())


def create_app(conninfo: str = "", schema: str = "pgrun", *, token: str | None = None,
               read_only: bool = False, hide_payloads: bool = False, crontab: str | None = None) -> Starlette:
    """The dashboard as an ASGI application. `token`: every page asks for it; `read_only`: no
    action buttons, and actions are refused; `hide_payloads`: payloads and results are not shown;
    `crontab`: the crontab file whose items the cron page lists."""
    store = Store(db.resolve_conninfo(conninfo), schema)
    cron_items = _cron_items(crontab)
    csrf = secrets.token_urlsafe(16)  # forms carry it: a page of another site cannot post here
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
    env.filters.update(when=_when, ago=_ago, tojson_pretty=lambda v: json.dumps(v, indent=2, default=str))

    def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        """The page, or only its live fragment when htmx asks for it."""
        if request.headers.get("hx-request") == "true" and "fragment" in context:
            template = context["fragment"]
        base = request.scope.get("root_path", "")
        html = env.get_template(template).render(
            base=base, read_only=read_only, csrf=csrf, hide_payloads=hide_payloads, states=STATES,
            # the URL a live page polls: the full path (a mount's prefix included), its query
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            logged_in=token is not None, **context)
        return HTMLResponse(html, status_code=status)

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            if not auth.allowed(request, token):
                if request.headers.get("accept", "").startswith("text/html"):
                    return RedirectResponse(request.scope.get("root_path", "") + "/login", status_code=303)
                return PlainTextResponse("a token is needed (Authorization: Bearer TOKEN, or basic auth)",
                                         status_code=401, headers={"www-authenticate": 'Basic realm="pgrun"'})
            try:
                return await handler(request)
            except db.DatabaseError as error:
                message = " ".join(str(error).split("\n", 1)[0].split())
                if db.sqlstate(error) in _USAGE_STATES:
                    return page(request, "error.html", 400, message=message)
                raise
        return endpoint

    async def overview(request: Request) -> Response:
        counts = await store.rows("job_counts", (False,), COUNT_COLUMNS)
        by_state = dict.fromkeys(STATES, 0)
        by_task: dict[str, dict[str, int]] = {}
        for row in counts:
            by_state[row["state"]] += row["jobs"]
            task = by_task.setdefault(row["task_identifier"], dict.fromkeys(STATES, 0))
            task[row["state"]] += row["jobs"]
        waiting = [r["waiting_since"] for r in counts if r["waiting_since"] is not None]
        minutes = await store.rows("job_throughput", (CHART_MINUTES,), THROUGHPUT_COLUMNS)
        now = datetime.now(timezone.utc)
        done = per_minute(minutes, CHART_MINUTES, now, "completed")
        bad = per_minute(minutes, CHART_MINUTES, now, "retried", "failed")
        charts = [
            bar_chart(done, title="completed per minute", color="#12b76a", chart_id="chart-completed"),
            bar_chart(bad, title="failed attempts per minute", color="#f04438", chart_id="chart-failed")]
        return page(request, "overview.html", fragment="_overview.html", by_state=by_state,
                    by_task=sorted(by_task.items()), oldest=min(waiting) if waiting else None,
                    counted_at=counts[0]["counted_at"] if counts else None, charts=charts)

    async def jobs(request: Request) -> Response:
        q = request.query_params
        filters = {name: (q.get(name) or None) for name in ("state", "task", "queue", "key", "payload")}
        before = int(q["before"]) if q.get("before", "").isdigit() else None
        params = (*filters.values(), before, PAGE_SIZE)
        found = await store.rows("list_jobs", params, LIST_JOB_COLUMNS)
        chosen = {k: v for k, v in filters.items() if v}
        after = found[-1]["id"] if len(found) == PAGE_SIZE else None
        next_url = None if after is None else "?" + urlencode({**chosen, "before": after})
        first_url = None if before is None else "?" + urlencode(chosen)
        return page(request, "jobs.html", fragment="_jobs.html", jobs=found, filters=filters,
                    next_url=next_url, first_url=first_url, query=request.url.query)

    async def job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        found = await store.rows("show_job", (job_id,), SHOW_JOB_COLUMNS)
        if not found:
            return page(request, "error.html", 404, message=f"no job {job_id}")
        data = found[0]
        _state, reason, until = (await store.rows("explain_job", (job_id,)))[0]
        audit = await store.rows("job_audit", (data["created_at"], str(job_id)))
        timeline = job_timeline(data, audit, datetime.now(timezone.utc))
        return page(request, "job.html", fragment="_job.html", job=data, reason=reason, until=until,
                    timeline=timeline)

    async def act(request: Request, statement: str, params: tuple, back: str, form: dict) -> Response:
        if read_only:
            return PlainTextResponse("read-only dashboard: actions are off", status_code=403)
        if not secrets.compare_digest((form.get("csrf") or [""])[0], csrf):
            return PlainTextResponse("stale form: reload the page", status_code=403)
        await store.rows(statement, params)
        return RedirectResponse(request.scope.get("root_path", "") + back, status_code=303)

    def job_params(action: str, ids: list[int]) -> tuple:
        return (ids, None) if action == "cancel" else (ids,)

    async def job_action(request: Request) -> Response:
        job_id, action = request.path_params["job_id"], request.path_params["action"]
        if action not in _ACTIONS:
            return PlainTextResponse(f"unknown action {action}", status_code=404)
        back = "/jobs" if action == "remove" else f"/jobs/{job_id}"  # a removed job has no page
        return await act(request, _ACTIONS[action], job_params(action, [job_id]), back, await _form(request))

    async def bulk_action(request: Request) -> Response:
        form = await _form(request)
        action = (form.get("action") or [""])[0]
        if action not in _ACTIONS:
            return PlainTextResponse(f"unknown action {action!r} (retry, cancel or remove)", status_code=400)
        ids = [int(v) for v in form.get("id", []) if v.isdigit()]
        if not ids or len(ids) > BULK_MAX:
            return PlainTextResponse(f"choose 1 to {BULK_MAX} jobs (got {len(ids)})", status_code=400)
        back = (form.get("back") or [""])[0]
        back = "/jobs" + (f"?{back}" if back and "/" not in back else "")  # a query string, never a URL
        return await act(request, _ACTIONS[action], job_params(action, ids), back, form)

    async def queue_action(request: Request) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ("pause", "resume"):
            return PlainTextResponse(f"unknown action {action}", status_code=404)
        return await act(request, f"{action}_queue", (name,), "/queues", await _form(request))

    async def queues_page(request: Request) -> Response:
        return page(request, "queues.html", fragment="_queues.html",
                    queues=await store.rows("list_queues", (), QUEUE_COLUMNS))

    async def limits_page(request: Request) -> Response:
        return page(request, "limits.html", fragment="_limits.html",
                    limits=await store.rows("list_limits", (), LIMIT_COLUMNS))

    async def workers_page(request: Request) -> Response:
        return page(request, "workers.html", fragment="_workers.html",
                    workers=await store.rows("list_workers", (), WORKER_COLUMNS))

    async def cron_page(request: Request) -> Response:
        if cron_items is None:
            return page(request, "cron.html", items=None)
        from ..cron.listing import cron_list

        rows = await asyncio.to_thread(cron_list, store.conninfo, store.schema, cron_items)
        return page(request, "cron.html", items=rows)

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
        given = ((await _form(request)).get("token") or [""])[0]
        if not auth.token_matches(given, token):
            return page(request, "login.html", 401, refused=True)
        response = RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
        response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse(request.scope.get("root_path", "") + "/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    routes = [
        Route("/", guarded(overview)),
        Route("/jobs", guarded(jobs)),
        Route("/jobs/bulk", guarded(bulk_action), methods=["POST"]),
        Route("/jobs/{job_id:int}", guarded(job)),
        Route("/jobs/{job_id:int}/{action}", guarded(job_action), methods=["POST"]),
        Route("/queues", guarded(queues_page)),
        Route("/queues/{name}/{action}", guarded(queue_action), methods=["POST"]),
        Route("/limits", guarded(limits_page)),
        Route("/workers", guarded(workers_page)),
        Route("/cron", guarded(cron_page)),
        Route("/audit", guarded(audit_page)),
        Route("/workflows", guarded(workflows_page)),
        Route("/workflows/{workflow_id:int}", guarded(workflow_page)),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.store = store
    return app


def _cron_items(crontab: str | None) -> list | None:
    """The crontab's items, read once at start (a bad crontab stops the dashboard, as the worker)."""
    if crontab is None:
        return None
    from ..cron.parse import parse_crontab_file

    return parse_crontab_file(crontab)
