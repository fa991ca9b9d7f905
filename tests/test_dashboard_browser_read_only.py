"""The dashboard's read-only mode in a real browser (Debian's chromium, Playwright): a real
`pgrun dashboard --read-only --hide-payloads` process shows no action button anywhere, no bulk
selection, no payload, and still updates live."""

from __future__ import annotations

import pytest

from browser_support import dashboard_process, own_database

pytest.importorskip("starlette")


@pytest.fixture(scope="module")
def site():
    import psycopg

    with own_database("read_only") as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        job = conn.execute("select id from pgrun.add_job('billing.charge', '{\"card\": \"4242-secret\"}', "
                           "queue_name => 'billing', max_attempts => 1)").fetchone()[0]
        conn.execute("select pgrun.permanently_fail_jobs(array[%s::bigint], 'card declined')", (job,))
        conn.execute("select pgrun.add_job('billing.refund', queue_name => 'billing')")
        with dashboard_process(dsn, "--read-only", "--hide-payloads") as base:
            yield dsn, base, job


@pytest.fixture
def page(browser):
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    context.close()


def test_read_only_mode_has_no_action_buttons(page, site):
    dsn, base, job = site
    page.goto(f"{base}/jobs/{job}")
    assert page.locator("#state").inner_text() == "failed" and "card declined" in page.content()
    assert page.locator("button").count() == 0 and page.locator("#actions").count() == 0
    assert "4242-secret" not in page.content() and page.locator("#payload").count() == 0

    page.goto(f"{base}/queues")
    assert page.locator("#queue-billing").count() == 1 and page.locator("button").count() == 0

    page.goto(f"{base}/jobs")
    assert page.locator("#jobs tr:has(td)").count() == 2
    assert page.locator("input[type=checkbox]").count() == 0 and page.locator("#bulk").count() == 0
    assert page.locator("button").all_inner_texts() == ["Filter"]  # only the filters' own
    assert page.locator("nav").inner_text().strip().endswith("read-only")


def test_read_only_pages_still_update_live(page, site):
    import psycopg

    dsn, base, job = site
    page.goto(f"{base}/jobs/{job}")
    page.evaluate("window.pgrunNoReload = true")
    with psycopg.connect(dsn, autocommit=True) as conn:  # someone with rights retries it elsewhere
        conn.execute("select pgrun.retry_jobs(array[%s::bigint])", (job,))
    page.locator("#state").filter(has_text="available").wait_for()
    assert page.evaluate("window.pgrunNoReload") is True
