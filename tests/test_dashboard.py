"""The dashboard (a first version) through Starlette's TestClient against a real database:
every page renders, filters work, actions call the SQL functions (and land in the audit log),
the token is asked for, read-only mode has no action buttons and refuses actions. (Not yet:
the browser tests with Chromium and Playwright that issue 11 asks for.)"""

from __future__ import annotations

import re

import pytest

import pgrun

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from pgrun.dashboard import create_app  # noqa: E402
from support import scalar  # noqa: E402


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
        assert client.get("/fragments/overview").status_code == 200
        assert client.get("/static/htmx.min.js").status_code == 200

        failed = client.get("/jobs", params={"state": "failed"})
        assert f'href="/jobs/{bad.id}"' in failed.text and f'href="/jobs/{ok.id}"' not in failed.text
        by_payload = client.get("/jobs", params={"payload": "ADA@"})
        assert f'href="/jobs/{ok.id}"' in by_payload.text and f'href="/jobs/{bad.id}"' not in by_payload.text
        unknown = client.get("/jobs", params={"state": "done"})
        assert unknown.status_code == 400 and "unknown state" in unknown.text

        page = client.get(f"/jobs/{bad.id}")
        assert page.status_code == 200 and "SMTPError: 550" in page.text and "&#34;id&#34;: 7" in page.text
        assert all(f">{label}</button>" in page.text for label in ("Retry", "Cancel", "Remove"))
        assert client.get("/jobs/424242").status_code == 404
        assert "mail" in client.get("/queues").text
        assert client.get("/workers").status_code == 200
        assert client.get("/audit").status_code == 200


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
        assert ">available</b>" in client.get(f"/jobs/{job.id}/state").text
        client.post("/queues/q/pause", data={"csrf": csrf})
        assert scalar(conn, "select paused from pgrun._private_job_queues where queue_name = 'q'") is True
        assert ">Resume</button>" in client.get("/queues").text
        client.post(f"/jobs/{job.id}/cancel", data={"csrf": csrf})
        assert scalar(conn, "select state from pgrun.jobs where id = %s", (job.id,)) == "cancelled"
    assert {a for (a,) in conn.execute("select action from pgrun.audit_log").fetchall()} >= {
        "retry_jobs", "pause_queue", "cancel_jobs"}


def test_a_token_is_asked_for(dsn):
    with _client(dsn, token="s3cret") as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
        api = TestClient(create_app(dsn, token="s3cret"))
        assert api.get("/jobs").status_code == 401
        assert api.get("/jobs", headers={"authorization": "Bearer s3cret"}).status_code == 200
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
        assert client.post(f"/jobs/{job.id}/cancel", data={"csrf": "x"}).status_code == 403
    assert scalar(conn, "select state from pgrun.jobs where id = %s", (job.id,)) == "available"


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
