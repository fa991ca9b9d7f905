"""depends_on and workflows from Python (WorkerUtils, JobSpec, pgrun.workflows) and the
`pgrun workflows` commands: human tables, --json, bad input that exits 2 with one line."""

from __future__ import annotations

import json

import psycopg
import pytest

import pgrun
from pgrun import JobSpec
from pgrun.workflows import Workflow, get_workflow, list_workflows, start_workflow, workflow_steps
from support import assert_usage_error, cli, scalar


def test_add_job_depends_on_blocks_the_job_and_explain_says_on_what(dsn):
    with pgrun.WorkerUtils(dsn) as utils:
        parent = utils.add_job("parent")
        child = utils.add_job("child", depends_on=[parent.id])
        assert child.state == "blocked"
        assert utils.explain_job(child.id).reason == f"blocked: waiting on job {parent.id}"
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="depends_on: no job 999999"):
            utils.add_job("child", depends_on=[parent.id, 999999])
        utils.connection.rollback()
        with pytest.raises(TypeError, match="depends_on is a sequence of job ids"):
            utils.add_job("child", depends_on="1")


def test_add_jobs_makes_a_graph_with_references_between_specs(dsn):
    with pgrun.WorkerUtils(dsn) as utils:
        fetch, resize, publish = utils.add_jobs([JobSpec("fetch"), JobSpec("resize", depends_on=[-1]),
                                                 JobSpec("publish", depends_on=[-1, -2])])
        assert [fetch.state, resize.state, publish.state] == ["available", "blocked", "blocked"]
        assert scalar(utils.connection, "select depends_on from pgrun.jobs where id = %s",
                      (publish.id,)) == [fetch.id, resize.id]
        with pytest.raises(psycopg.errors.InvalidParameterValue,
                           match="depends_on makes a cycle: specs 1, 2"):
            utils.add_jobs([JobSpec("a", depends_on=[-2]), JobSpec("b", depends_on=[-1])])


def test_a_workflow_from_python_and_its_errors(conn):
    workflow_id = start_workflow(conn, Workflow("order").step("reserve", "inventory.reserve", {"sku": "A1"},
                                                              compensate="inventory.release")
                                 .step("charge", "payments.charge", depends_on=["reserve"]))
    info = get_workflow(conn, workflow_id)
    assert (info.name, info.state, info.steps, info.steps_pending) == ("order", "running", 2, 2)
    assert [(s.name, s.job_state, s.depends_on, s.compensate) for s in workflow_steps(conn, workflow_id)] == [
        ("reserve", "available", [], "inventory.release"), ("charge", "blocked", ["reserve"], None)]
    assert [w.id for w in list_workflows(conn, "running")] == [workflow_id]
    assert list_workflows(conn, "completed") == []
    with pytest.raises(LookupError, match="no workflow 4242"):
        workflow_steps(conn, 4242)
    with pytest.raises(LookupError, match="no workflow 4242"):
        get_workflow(conn, 4242)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="step 'a': depends_on names no step 'x'"):
        start_workflow(conn, Workflow("bad").step("a", "t", depends_on=["x"]))
    with pytest.raises(TypeError, match="depends_on is a list of step names"):
        Workflow("bad").step("a", "t", depends_on="x")


def test_pgrun_workflows_lists_and_shows(dsn, conn):
    workflow_id = start_workflow(conn, Workflow("order").step("reserve", "inventory.reserve",
                                                              compensate="inventory.release")
                                 .step("charge", "payments.charge", depends_on=["reserve"]))
    code, out, err = cli("workflows", "--connection", dsn)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATE", "STEPS", "PENDING", "CREATED", "FINISHED", "REASON"]
    assert lines[1].split()[:5] == [str(workflow_id), "order", "running", "2", "2"]

    code, out, err = cli("workflows", "show", str(workflow_id), "--connection", dsn)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"workflow {workflow_id} (order): running"
    assert lines[2].split()[:6] == ["1", "reserve", "pending", "inventory.reserve",
                                    str(workflow_steps(conn, workflow_id)[0].job_id), "available"]

    code, out, err = cli("workflows", "show", str(workflow_id), "--connection", dsn, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["state"] == "running"
    assert [(s["name"], s["state"], s["depends_on"]) for s in shown["steps"]] == [
        ("reserve", "pending", []), ("charge", "pending", ["reserve"])]
    code, out, _ = cli("workflows", "--state", "running", "--json", "--connection", dsn)
    assert [w["id"] for w in json.loads(out)["workflows"]] == [workflow_id]


def test_pgrun_workflows_bad_input_exits_2_with_one_line(dsn):
    assert_usage_error(*cli("workflows", "show", "4242", "--connection", dsn)[::2], "pgrun: no workflow 4242")
    assert_usage_error(*cli("workflows", "show", "x", "--connection", dsn)[::2], "pgrun: ")
    assert_usage_error(*cli("workflows", "--state", "done", "--connection", dsn)[::2], "pgrun: ")


def test_the_dashboard_draws_a_workflow_with_each_steps_state(dsn, conn):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from pgrun.dashboard import create_app

    workflow_id = start_workflow(conn, Workflow("order").step("reserve", "inventory.reserve")
                                 .step("charge", "payments.charge", depends_on=["reserve"])
                                 .step("notify", "emails.notify", depends_on=["charge"]))
    with TestClient(create_app(dsn), headers={"accept": "text/html"}) as client:
        listing = client.get("/workflows")
        assert listing.status_code == 200 and f'href="/workflows/{workflow_id}"' in listing.text
        shown = client.get(f"/workflows/{workflow_id}")
        assert shown.status_code == 200
        assert shown.text.count('<g class="step"') == 3 and shown.text.count("<line ") == 2
        assert 'data-step="charge" data-state="pending"' in shown.text
        assert client.get("/workflows/4242").status_code == 404
