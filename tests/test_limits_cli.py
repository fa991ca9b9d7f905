"""`pgrun limits` (list, set, remove; --json; bad input exits 2 with one line), `pgrun add
--limit-key`, limit_keys through WorkerUtils and JobSpec, and pgrun.RateLimited's checks."""

from __future__ import annotations

import json

import pytest

import pgrun
from support import assert_usage_error, cli, scalar


def test_set_list_and_remove_limits(dsn, conn):
    code, out, err = cli("limits", "set", "tenant:*", "--max-running", "2", "--connection", dsn)
    assert (code, out) == (0, "limit tenant:* set: max running 2\n"), err
    code, out, err = cli("limits", "set", "hubspot", "--rate", "100/10s", "--burst", "20",
                         "--connection", dsn)
    assert (code, out) == (0, "limit hubspot set: 100 per 10 seconds, burst 20\n"), err
    code, out, err = cli("add", "sync", "--queue", "tenant:7", "--limit-key", "hubspot", "--limit-key", "crm",
                         "--connection", dsn)
    assert code == 0, err
    assert conn.execute("select queue_name, limit_keys from pgrun.jobs").fetchone() == ("tenant:7",
                                                                                        ["hubspot", "crm"])

    code, out, _ = cli("limits", "--connection", dsn)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["KEY", "FROM", "RUNNING", "RATE", "ROOM", "WAITING", "OPENS"]
    assert [line.split()[0] for line in lines[1:]] == ["crm", "hubspot", "tenant:*", "tenant:7"]
    assert lines[2].split()[:5] == ["hubspot", "0", "100/10s", "burst", "20"]
    assert lines[4].split()[:3] == ["tenant:7", "tenant:*", "0/2"]

    code, out, _ = cli("limits", "--json", "--connection", dsn)
    found = {k["key"]: k for k in json.loads(out)}
    assert code == 0
    assert found["hubspot"]["max_per_period"] == 100 and found["hubspot"]["period"] == 10.0
    assert found["tenant:7"]["set_by"] == "tenant:*" and found["tenant:7"]["waiting"] == 1
    assert found["crm"]["set_by"] is None and found["crm"]["room"] > 1000  # a key without a limit

    code, out, err = cli("limits", "remove", "hubspot", "--json", "--connection", dsn)
    assert code == 0 and json.loads(out) == {"key": "hubspot", "removed": True}, err
    assert scalar(conn, "select count(*) from pgrun._private_limits where key = 'hubspot'") == 0


@pytest.mark.parametrize("args, starts", [
    (["set", "x", "--rate", "0/s"], "pgrun: limits set: Invalid value for '--rate': '0/s' is not a rate"),
    (["set", "x", "--rate", "ten"], "pgrun: limits set: Invalid value for '--rate': 'ten' is not a rate"),
    (["set", "a*b", "--max-running", "1"], "pgrun: key may hold * only at its end"),
    (["set", "x", "--max-running", "0"], "pgrun: max_running must be at least 1 (got 0)"),
    (["set", "x", "--burst", "3"], "pgrun: burst needs a rate"),
    (["set", "x"], "pgrun: set_limit needs max_running or a rate"),
    (["remove", "never-set"], "pgrun: no limit never-set (nothing was changed)"),
])
def test_bad_input_exits_2_with_one_line(dsn, args, starts):
    code, _, err = cli("limits", *args, "--connection", dsn)
    assert_usage_error(code, err, starts)


def test_limit_keys_through_worker_utils_and_job_spec(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("sync", {"n": 1}, limit_keys=["hubspot"])
        assert job.limit_keys == ["hubspot"]
        assert utils.add_job("sync", limit_keys="salesforce").limit_keys == ["salesforce"]  # one key
        added = utils.add_jobs([pgrun.JobSpec("sync", limit_keys=["a", "b"]), pgrun.JobSpec("sync")])
        assert [j.limit_keys for j in added] == [["a", "b"], None]
        with pytest.raises(Exception, match="limit_keys must not repeat a key"):
            utils.add_job("sync", limit_keys=["a", "a"])
    assert scalar(conn, "select count(*) from pgrun._private_job_queues where limit_only") == 4


def test_rate_limited_checks_its_arguments():
    error = pgrun.RateLimited("hubspot", retry_after=30)
    assert isinstance(error, pgrun.Snooze) and (error.key, error.seconds) == ("hubspot", 30.0)
    assert str(error) == "rate limited on hubspot: retry after 30 s"
    for key in ("", "tenant:*", None):
        with pytest.raises(ValueError, match="RateLimited takes a key"):
            pgrun.RateLimited(key, retry_after=1)
    with pytest.raises(ValueError, match="Snooze takes a number of seconds"):
        pgrun.RateLimited("hubspot", retry_after=-1)
