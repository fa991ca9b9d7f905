"""The dashboard (a first version) through Starlette's TestClient against a real database:
every page renders, filters work, actions (one job or in bulk) call the SQL functions (and land
in the audit log), the token is asked for (cookie, bearer or basic auth), read-only mode has no
action buttons and refuses actions. The same in a real browser: test_dashboard_browser.py."""

from __future__ import annotations

import re

import pytest

import pgrun

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from pgrun.dashboard import create_app  # noqa: E402
from support import scalar  # noqa: E402

HTMX = {"hx-request": "true"}


def _client(dsn: str, **options) -> TestClient:
    return TestClient(create_app(dsn, **options), headers={"accept": "text/html"})


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_pages_render_and_filter(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        ok = utils.add_job("emails.send", {"to": "ada@example.com"}, queue_name="mail")
        bad = utils.add_job("reports.build", {"id": 7}, max_attempts=1)
        utils.permanently_fail_jobs([bad.id], "SMTPError: 550")
    with _client(dsn) as client:
        home = client.get("/")
        assert home.status_code == 200 and "Overview" in home.text and "/static/htmx.min.js" in home.text
        assert re.search(r"<b>1</b>failed", home.text) and 'hx-trigger="every 2s"' in home.text
        assert 'id="chart-completed"' in home.text and 'id="chart-failed"' in home.text
        assert 'href="/jobs?task=reports.build&amp;state=failed">1</a>' in home.text
        fragment = client.get("/", headers=HTMX)  # htmx's refresh: the fragment, not the page
        assert fragment.status_code == 200 and "<b>1</b>failed" in fragment.text
        assert "<nav>" not in fragment.text
        assert client.get("/static/htmx.min.js").status_code == 200

        failed = client.get("/jobs", params={"state": "failed"})
        assert f'href="/jobs/{bad.id}"' in failed.text and f'href="/jobs/{ok.id}"' not in failed.text
        by_payload = client.get("/jobs", params={"payload": "ADA@"})
        assert f'href="/jobs/{ok.id}"' in by_payload.text and f'href="/jobs/{bad.id}"' not in by_payload.text
        assert 'hx-trigger="every 3s [!document.querySelector' in failed.text
        rows = client.get("/jobs", params={"state": "failed"}, headers=HTMX).text
        assert f'href="/jobs/{bad.id}"' in rows and "<nav>" not in rows and 'id="bulk"' not in rows
        unknown = client.get("/jobs", params={"state": "done"})
        assert unknown.status_code == 400 and "unknown state" in unknown.text

        page = client.get(f"/jobs/{bad.id}")
        assert page.status_code == 200 and "SMTPError: 550" in page.text and "&#34;id&#34;: 7" in page.text
        assert all(f">{label}</button>" in page.text for label in ("Retry", "Cancel", "Remove"))
        assert client.get("/jobs/424242").status_code == 404
        assert "mail" in client.get("/queues").text
        assert 'id="timeline"' in page.text and "permanently_fail_jobs by " in page.text
        assert client.get("/workers").status_code == 200
        assert client.get("/audit").status_code == 200
        assert "--crontab FILE" in client.get("/cron").text


def test_actions_call_the_sql_functions_and_are_audited(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("t", queue_name="q")
        utils.permanently_fail_jobs([job.id])
    with _client(dsn) as client:
        csrf = _csrf(client.get(f"/jobs/{job.id}").text)
        assert client.post(f"/jobs/{job.id}/retry", data={"csrf": "wrong"}).status_code == 403
        done = client.post(f"/jobs/{job.id}/retry", data={"csrf": csrf}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/jobs/{job.id}"
        assert scalar(conn, "select state from pgrun.jobs where id = %s", (job.id,)) == "available"
        live = client.get(f"/jobs/{job.id}", headers=HTMX).text
        assert ">available</b>" in live and "retry_jobs by " in live  # the timeline shows the action
        client.post("/queues/q/pause", data={"csrf": csrf})
        assert scalar(conn, "select paused from pgrun._private_job_queues where queue_name = 'q'") is True
        assert ">Resume</button>" in client.get("/queues").text
        client.post(f"/jobs/{job.id}/cancel", data={"csrf": csrf})
        assert scalar(conn, "select state from pgrun.jobs where id = %s", (job.id,)) == "cancelled"
        gone = client.post(f"/jobs/{job.id}/remove", data={"csrf": csrf}, follow_redirects=False)
        assert gone.headers["location"] == "/jobs"  # a removed job has no page to go back to
        # the job was cancelled: Remove takes it all the same
        assert scalar(conn, "select count(*) from pgrun.jobs where id = %s", (job.id,)) == 0
    assert {a for (a,) in conn.execute("select action from pgrun.audit_log").fetchall()} >= {
        "retry_jobs", "pause_queue", "cancel_jobs", "remove_jobs"}


def test_bulk_actions_act_on_the_ticked_jobs(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        jobs = [utils.add_job("bulk.t", {"n": n}, max_attempts=1) for n in range(4)]
        utils.permanently_fail_jobs([j.id for j in jobs[:2]])  # the other two wait
    ids = [j.id for j in jobs]
    with _client(dsn) as client:
        page = client.get("/jobs", params={"state": "failed"}).text
        assert all(f'name="id" value="{i}"' in page for i in ids[:2])
        assert "pgrunConfirmBulk(event)" in page and ">Retry selected</button>" in page
        csrf = _csrf(page)
        done = client.post("/jobs/bulk", data={"csrf": csrf, "action": "retry", "id": ids[:2],
                                               "back": "state=failed"}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/jobs?state=failed"
        client.post("/jobs/bulk", data={"csrf": csrf, "action": "cancel", "id": [ids[2]]})
        client.post("/jobs/bulk", data={"csrf": csrf, "action": "remove", "id": [ids[3]],
                                        "back": "//elsewhere.example"}, follow_redirects=False)
        states = dict(conn.execute("select id, state from pgrun._private_jobs where id = any(%s)",
                                   (ids,)).fetchall())
        assert states == {ids[0]: "available", ids[1]: "available", ids[2]: "cancelled"}  # removed: gone
        nothing = client.post("/jobs/bulk", data={"csrf": csrf, "action": "retry"})
        assert nothing.status_code == 400 and "choose 1 to 1000 jobs (got 0)" in nothing.text
        explode = client.post("/jobs/bulk", data={"csrf": csrf, "action": "explode", "id": ids})
        assert explode.status_code == 400 and "unknown action 'explode'" in explode.text
        assert client.post("/jobs/bulk", data={"csrf": "x", "action": "retry", "id": ids}).status_code == 403
        # a bulk action's audit row names its first 20 jobs and how many more
        conn.execute("select pgrun.retry_jobs(array(select generate_series(900001, 900025)::bigint))")
        audit = client.get("/audit").text
        assert "900019, 900020 <span" in audit and "and 5 more" in audit and "900021" not in audit
    audited = conn.execute("select action, targets from pgrun.audit_log order by id").fetchall()
    assert ("retry_jobs", [str(i) for i in ids[:2]]) in audited
    assert ("cancel_jobs", [str(ids[2])]) in audited and ("remove_jobs", [str(ids[3])]) in audited


def test_the_cron_page_lists_the_crontab(dsn, tmp_path):
    crontab = tmp_path / "crontab"
    crontab.write_text("0 4 * * * reports.nightly ?id=nightly\n")
    with _client(dsn, crontab=str(crontab)) as client:
        page = client.get("/cron").text
        assert "reports.nightly" in page and "<code>0 4 * * *</code>" in page
        assert "never (not registered yet)" in page and re.search(r"\d{4}-\d\d-\d\d 04:00:00", page)


def test_a_token_is_asked_for(dsn):
    with _client(dsn, token="s3cret") as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
        api = TestClient(create_app(dsn, token="s3cret"))
        assert api.get("/jobs").status_code == 401
        assert api.get("/jobs", headers={"authorization": "Bearer s3cret"}).status_code == 200
        refused = api.get("/jobs", auth=("support", "wrong"))
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Basic realm="pgrun"'
        assert api.get("/jobs", auth=("support", "s3cret")).status_code == 200
        assert api.get("/jobs", headers={"authorization": "Basic !!"}).status_code == 401
        assert client.post("/login", data={"token": "nope"}).status_code == 401
        assert client.post("/login", data={"token": "s3cret"}).status_code == 200  # followed to the overview
        assert "Overview" in client.get("/").text


def test_read_only_mode_has_no_action_buttons_and_refuses_actions(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("t", {"secret": "hunter2"}, queue_name="q")
    with _client(dsn, read_only=True, hide_payloads=True) as client:
        page = client.get(f"/jobs/{job.id}").text
        assert "<button" not in page and "hunter2" not in page
        assert "<button" not in client.get("/queues").text
        assert "<button" not in client.get("/jobs").text.split("</form>", 1)[1]  # only the filter's
        assert 'class="pick"' not in client.get("/jobs").text
        bulk = client.post("/jobs/bulk", data={"csrf": "x", "action": "cancel", "id": [job.id]})
        assert bulk.status_code == 403
        assert client.post(f"/jobs/{job.id}/cancel", data={"csrf": "x"}).status_code == 403
    assert scalar(conn, "select state from pgrun.jobs where id = %s", (job.id,)) == "available"


def test_mounted_in_an_asgi_app_every_link_and_poll_keeps_the_prefix(dsn, conn):
    from starlette.applications import Starlette
    from starlette.routing import Mount

    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("t", queue_name="q")
    outer = Starlette(routes=[Mount("/admin", create_app(dsn))])
    with TestClient(outer, headers={"accept": "text/html"}) as client:
        page = client.get("/admin/jobs", params={"state": "available"}).text
        assert 'hx-get="/admin/jobs?state=available"' in page and f'href="/admin/jobs/{job.id}"' in page
        assert 'src="/admin/static/htmx.min.js"' in page and 'action="/admin/jobs/bulk"' in page
        assert client.get("/admin/static/htmx.min.js").status_code == 200
        done = client.post(f"/admin/jobs/{job.id}/cancel", data={"csrf": _csrf(page)}, follow_redirects=False)
        assert done.headers["location"] == f"/admin/jobs/{job.id}"
    assert scalar(conn, "select state from pgrun.jobs where id = %s", (job.id,)) == "cancelled"


def test_pgrun_dashboard_serves_on_localhost(dsn):
    import socket
    import urllib.request

    from support import WorkerProcess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = WorkerProcess(["dashboard", "--port", str(port), "--read-only"], dsn)
    try:
        server.wait_for_line(f"http://127.0.0.1:{port}", timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200 and b"read-only" in response.read()
    finally:
        server.stop()


def test_charts_sum_each_minute_and_label_times_relative_to_now():
    from datetime import datetime, timedelta, timezone

    from pgrun.dashboard.charts import bar_chart, per_minute

    now = datetime(2026, 1, 1, 12, 30, 40, tzinfo=timezone.utc)
    this = now.replace(second=0)

    def row(minute, completed, failed=0):
        return {"minute": minute, "completed": completed, "retried": 0, "failed": failed}

    rows = [row(this, 3, 1), row(this, 2), row(this - timedelta(minutes=29), 1),
            row(this - timedelta(minutes=30), 9)]  # one minute too old for a 30-minute chart
    done = per_minute(rows, 30, now, "completed")
    assert len(done) == 30 and done[-1] == 5 and done[0] == 1 and sum(done) == 6
    assert per_minute(rows, 30, now, "retried", "failed")[-1] == 1
    svg = bar_chart(done, title="<done>", color="#12b76a", chart_id="c")
    assert 'data-total="6"' in svg and "&lt;done&gt;" in svg and "<done>" not in svg
    assert "<title>5 (this minute)</title>" in svg and "<title>1 (29 min ago)</title>" in svg
    assert ">-29m</text>" in svg and ">now</text>" in svg and svg.count("<rect") == 30
    assert 'data-total="0"' in bar_chart([0] * 30, title="t", color="red", chart_id="z")  # no division by 0


def test_the_limits_page_shows_each_keys_limit_and_usage(dsn, conn):
    conn.execute("select pgrun.set_limit('tenant:*', max_running => 2, max_per_period => 10, "
                 "period => interval '1 minute', burst => 5)")
    with pgrun.WorkerUtils(dsn) as utils:
        for _ in range(3):
            utils.add_job("sync", limit_keys=["tenant:42"])
    with _client(dsn) as client:
        page = client.get("/limits")
        assert page.status_code == 200 and 'href="/limits">Limits</a>' in page.text
        row = page.text[page.text.index("<td>tenant:42</td>"):].split("</tr>")[0]
        assert "<td>tenant:*</td>" in row and "<td>0 / 2</td>" in row, row
        assert "10 per 60.0 s (burst 5)" in row and row.endswith("<td>3</td>"), row
        live = client.get("/limits", headers=HTMX).text
        assert live.lstrip().startswith("<table>") and "tenant:42" in live   # the fragment alone
        assert 'href="/limits"' in client.get("/queues").text
