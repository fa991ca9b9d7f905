"""Typed tasks: validated payloads, permanent failure on a bad one, typed enqueueing checked
by mypy (examples/typed_tasks), and validation at enqueue time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

import pgrun
from pgrun.tasks import load_tasks

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "typed_tasks"
sys.path.insert(0, str(EXAMPLE.parent))

from typed_tasks import enqueue, tasks  # noqa: E402


def test_a_typed_handler_gets_a_validated_instance_of_its_payload_type(dsn):
    tasks.SENT.clear(), tasks.RESIZED.clear(), tasks.BUILT.clear()
    with pgrun.WorkerUtils(dsn) as utils:
        jobs = enqueue.enqueue_all(utils)
    assert jobs[0].payload == {"to": "ada@example.com", "subject": "Hello"}   # the model's JSON

    stats = pgrun.run_once(tasks, connection=dsn)

    assert (stats.completed, stats.failed) == (3, 0)
    assert tasks.SENT == [tasks.Email(to="ada@example.com")]
    assert tasks.RESIZED == [{"path": "cat.png", "width": 200}]
    assert tasks.BUILT == [tasks.Report(report_id=7, pages=3)]


def test_an_invalid_payload_fails_the_job_for_good_with_the_validation_error(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("emails.send", {"to": "not an address", "subject": ["no"]}, max_attempts=25)

    stats = pgrun.run_once(tasks, connection=dsn)

    assert stats.failed == 1 and stats.permanently_failed == 1
    state, attempts, last_error = conn.execute(
        "select state, attempts, last_error from pgrun.jobs where id = %s", (job.id,)).fetchone()
    assert (state, attempts) == ("failed", 1)       # 24 attempts left, none used: retrying cannot help
    first = last_error.splitlines()[0]
    assert first.startswith("InvalidPayload: the payload of task 'emails.send' is not a valid Email")
    assert "2 validation errors for Email" in last_error
    assert re.search(r"^to\n  String should match pattern", last_error, re.M)
    assert re.search(r"^subject\n  Input should be a valid string", last_error, re.M)


def test_a_typed_dict_payload_missing_a_key_fails_for_good(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("images.resize", {"path": "cat.png"})
    pgrun.run_once(tasks, connection=dsn)
    state, last_error = conn.execute("select state, last_error from pgrun.jobs where id = %s",
                                     (job.id,)).fetchone()
    assert state == "failed"
    assert "is not a valid Resize" in last_error and "width\n  Field required" in last_error


def test_validation_at_enqueue_refuses_a_bad_payload_and_adds_nothing(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        with pytest.raises(pydantic.ValidationError, match="String should match pattern"):
            utils.add_job(tasks.SEND_EMAIL, {"to": "nobody"}, validate=True)
        job = utils.add_job(tasks.SEND_EMAIL, {"to": "ada@example.com"}, validate=True)
    assert job.payload == {"to": "ada@example.com", "subject": "Hello"}   # the defaults filled in
    assert conn.execute("select count(*) from pgrun.jobs").fetchone()[0] == 1


def test_validate_needs_a_task_ref():
    with pytest.raises(TypeError, match="validate=True needs a TaskRef"):
        pgrun.typed.resolve("emails.send", {}, True)


def test_only_models_typed_dicts_and_dataclasses_make_a_task_typed():
    def plain(payload, helpers): ...
    def as_dict(payload: dict, helpers): ...
    defs = load_tasks({"plain": plain, "as_dict": as_dict, "typed": tasks.send_email})
    assert defs["plain"].decode is None and defs["as_dict"].decode is None
    assert defs["typed"].decode is not None
    assert tasks.SEND_EMAIL == pgrun.TaskRef("emails.send", tasks.Email)


def test_mypy_accepts_the_typed_example_and_refuses_each_wrong_payload(tmp_path):
    """examples/typed_tasks passes mypy --strict, but for must_fail_wrong_model.py, where mypy
    must refuse every line marked `# refused` and no other."""
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
                          "--cache-dir", str(tmp_path / "cache"), "typed_tasks"],
                         cwd=EXAMPLE.parent, capture_output=True, text=True, timeout=300)
    errors = {(m["file"], int(m["line"])) for m in
              re.finditer(r"^(?P<file>[\w/]+\.py):(?P<line>\d+): error:", run.stdout, re.M)}
    must_fail = EXAMPLE / "must_fail_wrong_model.py"
    lines = enumerate(must_fail.read_text().splitlines(), start=1)
    refused = {("typed_tasks/must_fail_wrong_model.py", n) for n, line in lines if line.endswith("# refused")}
    assert len(refused) >= 4
    assert run.returncode == 1, run.stdout + run.stderr
    assert errors == refused, run.stdout


def test_a_process_isolated_handler_gets_the_validated_instance(dsn, conn):
    from tasks import typed_isolated

    conn.execute("select pgrun.set_retention(completed => '1 hour', failed => null, cancelled => null)")
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("typed.isolated", {"x": "40", "y": 2})   # "40" is coerced to 40
    assert pgrun.run_once(typed_isolated, connection=dsn).completed == 1
    assert conn.execute("select result from pgrun.jobs where id = %s", (job.id,)).fetchone()[0] == {
        "type": "Point", "sum": 42}
