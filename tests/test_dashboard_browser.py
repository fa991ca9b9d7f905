"""The dashboard in a real browser (Debian's chromium, driven by Playwright): a real `pgrun
dashboard` process with a token and a real worker process, on a database of this module's own.
It loads the overview, filters failed jobs, opens one, presses Retry and watches it run and
end without a reload; cancels a running job from its page; pauses a queue; retries in bulk;
is refused without the token and logs in with it. It takes the screenshots of docs/images/
(written there with PGRUN_SCREENSHOTS=1).
(Read-only mode: test_dashboard_browser_read_only.py, a server of its own.)"""

from __future__ import annotations

import os

import pytest

from browser_support import SCREENSHOTS, accept_dialogs, dashboard_process, own_database
from support import Workers, scalar, wait_until

pytest.importorskip("starlette")
TOKEN = "browser-s3cret"
EMAILS, REPORTS = 6, ("weekly-sales", "monthly-churn")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The database, its jobs (made in a fixed order: the same ids every run), a worker and the
    dashboard. Yields (dsn, base URL, probe dir, ids)."""
    import psycopg

    probe = tmp_path_factory.mktemp("dashboard_probe")
    with own_database("actions") as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        # keep final jobs (by default a completed job is deleted): their pages stay to be seen
        conn.execute("select pgrun.set_retention('1 day', '1 day', '1 day')")
        ids = {"emails": [conn.execute("select id from pgrun.add_job('emails.send', json_build_object("
                                       "'to', %s::text), queue_name => 'mail')",
                                       (f"user{n}@example.com",)).fetchone()[0] for n in range(EMAILS)]}
        for report in REPORTS:
            ids[report] = conn.execute("select id from pgrun.add_job('reports.build', json_build_object("
                                       "'report', %s::text), max_attempts => 1)", (report,)).fetchone()[0]
        ids["export"] = conn.execute("select id from pgrun.add_job('exports.run', "
                                     "'{\"export\": \"customers.csv\"}')").fetchone()[0]
        workers = Workers(dsn)
        try:
            workers.start("--tasks", "tasks.dashboard_probe", "--concurrency", "4",
                          env={"DASHBOARD_PROBE_DIR": str(probe)})
            states = "select array_agg(state order by id) from pgrun.jobs"
            settled = ["completed"] * EMAILS + ["failed", "failed", "running"]
            wait_until(lambda: scalar(conn, states) == settled, timeout=60,
                       message="the emails sent, the reports failed, the export running")
            with dashboard_process(dsn, "--token", TOKEN) as base:
                yield dsn, base, probe, ids
        finally:
            workers.close()


@pytest.fixture
def page(browser, site):
    """A page of a browser context that has logged in (the login itself: its own test)."""
    _, base, _, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_cookies([{"name": "pgrun_dashboard_token", "value": TOKEN, "url": base}])
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    context.close()


def _shot(tab, name: str) -> None:
    os.makedirs(SCREENSHOTS, exist_ok=True)
    tab.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=True)
    assert os.path.getsize(os.path.join(SCREENSHOTS, name)) > 10_000, f"{name}: an empty screenshot"


def test_refused_without_the_token_and_logs_in_with_it(browser, site):
    _, base, _, _ = site
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(f"{base}/jobs")
        assert tab.url == f"{base}/login"  # sent to the login form, nothing of the jobs shown
        assert tab.locator("#jobs").count() == 0
        assert context.request.get(f"{base}/jobs", headers={"accept": "application/json"}).status == 401
        tab.fill("input[name=token]", "not-the-token")
        tab.click("button:text-is('Log in')")
        tab.get_by_text("That token is not the dashboard's.").wait_for()
        tab.fill("input[name=token]", TOKEN)
        tab.click("button:text-is('Log in')")
        tab.wait_for_url(f"{base}/")
        assert tab.locator("h1").inner_text() == "Overview"
        tab.goto(f"{base}/jobs")  # the cookie opens every page now
        assert tab.locator("#jobs").count() == 1
    finally:
        context.close()


def test_overview_filter_failed_open_retry_and_watch_it_run(page, site):
    dsn, base, probe, ids = site
    page.goto(f"{base}/")
    # the overview refreshes itself: wait for maintain()'s count to reach it
    page.locator("#count-failed b").filter(has_text="2").wait_for(timeout=60_000)
    page.locator("#count-completed b").filter(has_text=str(EMAILS)).wait_for(timeout=60_000)
    assert page.locator("#chart-completed").get_attribute("data-total") == str(EMAILS)
    assert page.locator("#chart-failed").get_attribute("data-total") == "2"
    _shot(page, "dashboard-overview.png")

    page.click("nav >> text=Jobs")
    page.select_option("select[name=state]", "failed")
    page.click("button:text-is('Filter')")
    page.wait_for_url(f"{base}/jobs?state=failed*")
    rows = page.locator("#jobs tr:has(td)")
    assert rows.count() == 2 and all(t == "failed" for t in rows.locator("td:nth-child(5)").all_inner_texts())
    _shot(page, "dashboard-jobs.png")

    job = ids["weekly-sales"]
    page.click(f"#jobs a:text-is('{job}')")
    page.wait_for_url(f"{base}/jobs/{job}")
    assert page.locator("#state").inner_text() == "failed"
    assert "report service answered 503 for weekly-sales" in page.locator("#errors").inner_text()

    (probe / "gate").touch()  # the next attempt succeeds (once released)
    seen: list[str] = []
    accept_dialogs(page, seen)
    page.click("#actions button:text-is('Retry')")
    page.wait_for_url(f"{base}/jobs/{job}")
    assert seen == [f"Retry job {job}?"]
    page.evaluate("window.pgrunNoReload = true")  # gone if the page reloads
    page.locator("#state").filter(has_text="running").wait_for()
    assert "running on pgrun-" in page.locator("#timeline").inner_text()
    (probe / "release").touch()
    page.locator("#state").filter(has_text="completed").wait_for()
    assert page.evaluate("window.pgrunNoReload") is True
    assert '"rows": 42' in page.locator("#result").inner_text()
    assert "retry_jobs by" in page.locator("#timeline").inner_text()
    _shot(page, "dashboard-job.png")
    assert scalar_state(dsn, job) == "completed"


def test_cancel_a_running_job_from_its_page(page, site):
    dsn, base, _, ids = site
    job = ids["export"]
    page.goto(f"{base}/jobs/{job}")
    assert page.locator("#state").inner_text() == "running"
    seen: list[str] = []
    accept_dialogs(page, seen)
    page.click("#actions button:text-is('Cancel')")
    page.locator("#state").filter(has_text="cancelled").wait_for()
    assert seen == [f"Cancel job {job}?"]
    assert scalar_state(dsn, job) == "cancelled"
    assert "cancel_jobs by" in page.locator("#timeline").inner_text()


def test_pause_a_queue(page, site):
    dsn, base, _, _ = site
    page.goto(f"{base}/queues")
    row = page.locator("#queue-mail")
    assert row.locator(".paused").inner_text() == "no"
    seen: list[str] = []
    accept_dialogs(page, seen)
    row.locator("button:text-is('Pause')").click()
    page.wait_for_url(f"{base}/queues")
    assert seen == ["Pause queue mail?"]
    assert row.locator(".paused").inner_text() == "yes"
    assert row.locator("button:text-is('Resume')").count() == 1
    import psycopg

    with psycopg.connect(dsn) as conn:
        assert scalar(conn, "select paused from pgrun._private_job_queues where queue_name = 'mail'") is True
        assert scalar(conn, "select count(*) from pgrun.audit_log where action = 'pause_queue'") == 1


def test_bulk_retry_asks_first_and_acts_on_the_ticked_jobs(page, site):
    dsn, base, probe, ids = site
    job = ids["monthly-churn"]
    (probe / "gate").touch()  # its next attempt succeeds at once
    (probe / "release").touch()
    page.goto(f"{base}/jobs?state=failed")
    seen: list[str] = []
    accept_dialogs(page, seen)
    page.click("button:text-is('Retry selected')")  # nothing ticked: told so, nothing sent
    assert seen == ["Tick the jobs first."]
    page.check(f"input.pick[value='{job}']")
    page.click("button:text-is('Retry selected')")
    page.wait_for_url(f"{base}/jobs?state=failed")
    assert seen[1:] == ["Retry 1 job?"]
    wait_until(lambda: scalar_state(dsn, job) == "completed", timeout=30, message="the retried job to run")
    page.locator(f"#jobs a:text-is('{job}')").wait_for(state="detached")  # the list refreshed itself


def scalar_state(dsn: str, job_id: int) -> str:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return scalar(conn, "select state from pgrun.jobs where id = %s", (job_id,))
