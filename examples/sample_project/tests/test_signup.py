"""Tests a user of pgrun writes for their tasks, with the pgrun.testing plugin."""

import asyncio

import pytest
from sample_app import tasks
from sample_app.signup import sign_up
from sample_app.tasks import Welcome

import pgrun


def test_signing_up_enqueues_a_welcome_email(pgrun_jobs):
    sign_up(pgrun_jobs.connection, "ada@example.com", "Ada")
    pgrun_jobs.assert_enqueued("emails.welcome", payload={"to": "ada@example.com", "name": "Ada"})
    pgrun_jobs.assert_not_enqueued("crm.sync")


def test_the_welcome_email_is_sent_and_the_crm_synced(pgrun_jobs):
    sign_up(pgrun_jobs.connection, "grace@example.com", "Grace")
    assert pgrun_jobs.run_once().completed == 2        # the email, and the sync it enqueued
    assert tasks.SENT[-1] == Welcome(to="grace@example.com", name="Grace")
    assert tasks.SYNCED[-1] == "grace@example.com"


@pytest.mark.pgrun_inline
def test_inline_mode_runs_each_job_as_it_is_enqueued(pgrun_jobs):
    sign_up(pgrun_jobs.connection, "alan@example.com", "Alan")
    assert tasks.SYNCED[-1] == "alan@example.com"      # already ran, before any run_once
    assert pgrun_jobs.last_run.completed == 2
    pgrun_jobs.assert_enqueued("crm.sync", payload={"email": "alan@example.com"})   # it was enqueued


def test_a_job_added_in_a_transaction_runs_at_the_next_run_once_even_inline(pgrun_jobs):
    conn = pgrun_jobs.connection
    with pgrun_jobs.inline(), conn.transaction():
        sign_up(conn, "in-tx@example.com", "Tx")
        assert pgrun_jobs.last_run is None              # no worker can see it before the commit
    assert pgrun_jobs.run_once().completed == 2


def test_a_payload_that_does_not_validate_fails_for_good(pgrun_jobs):
    pgrun_jobs.add_job("emails.welcome", {"to": "nobody"})   # no name
    assert pgrun_jobs.run_once().permanently_failed == 1
    (job,) = pgrun_jobs.jobs("emails.welcome")
    assert job.state == "failed" and "name\n  Field required" in job.last_error


def test_assert_enqueued_says_what_was_enqueued(pgrun_jobs):
    pgrun_jobs.add_job("crm.sync", {"email": "a@example.com"})
    with pytest.raises(AssertionError, match=r"expected a job of task 'crm.sync' with payload "
                                             r"\{'email': 'b@example.com'\}; found 0. Jobs of 'crm.sync' "
                                             r"enqueued: \d+: \{'email': 'a@example.com'\}"):
        pgrun_jobs.assert_enqueued("crm.sync", payload={"email": "b@example.com"})
    pgrun_jobs.assert_enqueued("crm.sync", count=1)


def test_jobs_added_by_sql_count_as_enqueued(pgrun_jobs):
    pgrun_jobs.connection.execute("select pgrun.add_job('crm.sync', '{\"email\": \"sql@example.com\"}')")
    pgrun_jobs.assert_enqueued("crm.sync", payload={"email": "sql@example.com"})


def test_run_once_works_from_async_code(pgrun_jobs):
    async def enqueue_and_run():
        async with pgrun.AsyncWorkerUtils(pgrun_jobs.dsn) as utils:
            await utils.add_job("crm.sync", {"email": "async@example.com"})
        return pgrun_jobs.run_once()
    assert asyncio.run(enqueue_and_run()).completed == 1
