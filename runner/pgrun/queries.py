"""Every SQL statement the runtime sends, rendered once per schema.

The text of a statement never changes for a schema, so psycopg prepares it once
per connection and reuses it (the hot path: claim, complete, fail).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from psycopg import sql

from .job import JOB_COLUMNS, ROW_COLUMNS
from .sql_files import check_schema_name

_COLUMNS = ", ".join(JOB_COLUMNS)
_ROW_COLUMNS = ", ".join(ROW_COLUMNS)  # the utilities' statements (utils.py)
# What claim_jobs returns, in this order; the last row of a short claim has id null and
# carries next_due_in and look_again.
# payload and flags come as JSON text: the runner decodes a claim's payloads in one call
# (payloads.decode_all), which costs a fraction of one call per row.
CLAIM_COLUMNS = (
    "id", "queue_name", "task_identifier", "payload::text", "priority", "run_at", "attempts",
    "max_attempts", "last_error", "created_at", "key", "locked_at", "revision", "flags::text", "lease",
    "next_due_in", "look_again", "extract(epoch from timeout)::float8", "meta::text",
)

# What the inspection commands and the metrics read (inspect_cli.py, metrics.py), by name.
LIST_JOB_COLUMNS = ("id", "task_identifier", "queue_name", "state", "priority", "run_at", "attempts",
                    "max_attempts", "key", "created_at", "locked_by", "last_error")
SHOW_JOB_COLUMNS = LIST_JOB_COLUMNS + (
    "updated_at", "locked_at", "revision", "flags", "payload", "errors", "result", "finished_at",
    "keep_until", "cancel_requested_at", "cancel_reason", "extract(epoch from timeout)::float8 as timeout",
    "dead_letter_job_id")
COUNT_COLUMNS = ("task_identifier", "queue_name", "state", "jobs", "waiting_since", "counted_at")
THROUGHPUT_COLUMNS = ("minute", "task_identifier", "completed", "retried", "failed", "cancelled")
QUEUE_COLUMNS = ("queue_name", "max_running", "running", "paused", "available", "scheduled", "retryable",
                 "failed", "waiting_since", "counted_at")
LIMIT_COLUMNS = ("key", "set_by", "max_running", "running", "max_per_period",
                 "extract(epoch from period)::float8 as period", "burst", "started_in_period", "room",
                 "paused_until", "opens_at", "waiting")
WORKER_COLUMNS = ("worker_id", "started_at", "last_heartbeat_at", "heartbeat_interval", "lease_timeout",
                  "live", "reaped_at", "reaped_by", "idle_since", "info", "running_job_ids")

WORKFLOW_COLUMNS = ("id", "name", "state", "steps", "steps_pending", "created_at", "updated_at",
                    "finished_at", "reason")
WORKFLOW_STEP_COLUMNS = ("name", "position", "state", "task_identifier", "job_id", "job_state", "depends_on",
                         "compensate", "compensation_job_id", "compensation_job_state", "result")


def column_names(columns: tuple[str, ...]) -> list[str]:
    """The names rows of these columns come back under (`expr as name` gives name)."""
    return [column.rsplit(" as ", 1)[-1] for column in columns]


@dataclass(frozen=True)
class Queries:
    schema: str
    claim: str
    complete: str
    fail: str
    fail_permanent: str
    give_back: str
    snooze: str
    held_attempts: str
    register: str
    heartbeat: str
    unregister: str
    maintain: str
    vacuum_jobs: str
    oldest_xmin: str
    add_job: str
    add_jobs: str
    complete_jobs: str
    remove_jobs: str
    permanently_fail_jobs: str
    cancel_jobs: str
    reschedule_jobs: str
    remove_job: str
    force_unlock_workers: str
    # control (control.py)
    retry_jobs: str
    pause_queue: str
    resume_queue: str
    pause_task: str
    resume_task: str
    explain_job: str
    job_states: str
    # inspection and statistics (inspect_cli.py, metrics.py)
    list_jobs: str
    show_job: str
    job_counts: str
    job_throughput: str
    list_queues: str
    list_workers: str
    audit_recent: str
    job_audit: str
    set_dead_letter: str
    set_retry_policy: str
    task_jobs: str
    remove_retry_policy: str
    # flow control (limits_cli.py, the runner's RateLimited)
    set_limit: str
    remove_limit: str
    list_limits: str
    pause_limit_key: str
    set_priority_aging: str
    priority_aging: str
    remove_dead_letter: str
    listen: str
    cancel_channel: str
    cancel_requests: str
    # results (results.py)
    get_result: str
    watch_jobs: str
    unwatch_jobs: str
    listen_finished: str
    unlisten_finished: str
    # roles (grant_cli.py)
    grant_enqueue: str
    grant_worker: str
    grant_admin: str
    grant_read: str
    revoke_all: str
    # workflows and durable steps (0580_workflows.sql, 0590_job_steps.sql)
    parent_results: str
    job_steps: str
    record_job_step: str
    start_workflow: str
    list_workflows: str
    workflow_steps: str


@cache
def for_schema(schema: str) -> Queries:
    s = sql.Identifier(check_schema_name(schema)).as_string(None)
    return Queries(
        schema=schema,
        # the worker's side: every statement names its columns (see claim.py for the claim's)
        claim=(f"select {', '.join(CLAIM_COLUMNS)} from {s}.claim_jobs(%s, %s::int, %s::text[], %s::text[])"),
        complete=(f"select job_id, outcome from {s}.complete_attempts("
                  "%s, %s::bigint[], %s::bigint[], %s::jsonb[])"),
        fail=(f"select job_id, outcome, run_at, attempts, max_attempts "
              f"from {s}.fail_attempts(%s, %s::bigint[], %s::bigint[], %s::text[])"),
        # a batch with a PermanentFailure or a runner-decided retry delay in it (the hot path's
        # statement stays the 4-argument one)
        fail_permanent=(f"select job_id, outcome, run_at, attempts, max_attempts from {s}.fail_attempts("
                        "%s, %s::bigint[], %s::bigint[], %s::text[], %s::boolean[], %s::interval[])"),
        snooze=(f"select job_id, outcome, run_at from {s}.snooze_attempts("
                "%s, %s::bigint[], %s::bigint[], %s::interval[])"),
        give_back=f"select job_id, outcome from {s}.return_attempts(%s, %s::bigint[], %s::bigint[])",
        held_attempts=f"select job_id, lease from {s}.held_attempts(%s)",
        register=f"select {s}.register_worker(%s, %s::jsonb, %s::interval, %s::interval)",
        heartbeat=f"select dead_worker_id, released_jobs from {s}.heartbeat(%s)",
        unregister=f"select {s}.unregister_worker(%s)",
        maintain=f"select task, rows from {s}.maintain()",
        # analyze too: statistics steer the claim's plans, and a server without
        # autovacuum never refreshes them otherwise
        vacuum_jobs=f"vacuum (skip_locked, analyze) {s}._private_jobs",
        # the oldest transaction id a session of this database holds in its snapshot or
        # transaction: what VACUUM may remove of its tables stops there (replication slots
        # and prepared transactions aside)
        oldest_xmin=("select x::text from pg_stat_activity as a, "
                     "lateral (values (a.backend_xmin), (a.backend_xid)) as s(x) "
                     "where a.datname = current_database() and x is not null order by age(x) desc limit 1"),
        add_job=(
            f"select {_ROW_COLUMNS} from {s}.add_job(identifier => %s, payload => %s::json, "
            "queue_name => %s, run_at => %s::timestamptz, max_attempts => %s::int, job_key => %s, "
            "priority => %s::int, flags => %s::text[], job_key_mode => %s, timeout => %s::interval, "
            "meta => %s::jsonb, depends_on => %s::bigint[], limit_keys => %s::text[])"
        ),
        # Specs travel as one JSON array (payloads.encode writes each payload); json_populate_record
        # turns each into a job_spec by attribute name, so attributes the JSON lacks are null (the
        # statement names none of them: job_spec may gain more).
        add_jobs=(
            f"select {_ROW_COLUMNS} from {s}.add_jobs("
            f"(select coalesce(array_agg(json_populate_record(null::{s}.job_spec, e.spec) order by e.n), "
            f"'{{}}'::{s}.job_spec[]) "
            "from json_array_elements(%s::json) with ordinality as e(spec, n)), "
            # one row per spec, in spec order: add_jobs answers so, and the ordinality says it
            "%s) with ordinality as added order by added.ordinality"
        ),
        complete_jobs=f"select {_ROW_COLUMNS} from {s}.complete_jobs(%s::bigint[])",
        remove_jobs=f"select {_ROW_COLUMNS} from {s}.remove_jobs(%s::bigint[])",
        permanently_fail_jobs=f"select {_ROW_COLUMNS} from {s}.permanently_fail_jobs(%s::bigint[], %s)",
        cancel_jobs=f"select {_ROW_COLUMNS} from {s}.cancel_jobs(%s::bigint[], %s)",
        reschedule_jobs=(
            f"select {_ROW_COLUMNS} from {s}.reschedule_jobs(%s::bigint[], run_at => %s::timestamptz, "
            "priority => %s::int, attempts => %s::int, max_attempts => %s::int)"
        ),
        remove_job=f"select {_ROW_COLUMNS} from {s}.remove_job(%s) where id is not null",
        force_unlock_workers=f"select {s}.force_unlock_workers(%s::text[])",
        retry_jobs=f"select {_ROW_COLUMNS} from {s}.retry_jobs(%s::bigint[])",
        pause_queue=f"select {s}.pause_queue(%s::text)",
        resume_queue=f"select {s}.resume_queue(%s::text)",
        pause_task=f"select {s}.pause_task(%s::text)",
        resume_task=f"select {s}.resume_task(%s::text)",
        explain_job=f"select state, reason, until from {s}.explain_job(%s::bigint)",
        job_states=f"select id, state from {s}.jobs where id = any(%s::bigint[]) order by id",
        list_jobs=(f"select {', '.join(LIST_JOB_COLUMNS)} from {s}.list_jobs("
                   "%s, %s, %s, %s, %s, %s::bigint, %s::int)"),
        show_job=f"select {', '.join(SHOW_JOB_COLUMNS)} from {s}.jobs where id = %s::bigint",
        job_counts=f"select {', '.join(COUNT_COLUMNS)} from {s}.job_counts(%s::boolean)",
        job_throughput=f"select {', '.join(THROUGHPUT_COLUMNS)} from {s}.job_throughput(%s::int)",
        list_queues=f"select {', '.join(QUEUE_COLUMNS)} from {s}.list_queues()",
        list_workers=f"select {', '.join(WORKER_COLUMNS)} from {s}.list_workers()",
        # a bulk action's row names thousands of jobs: the first 20 and how many, its arguments cut short
        audit_recent=(f"select id, at, role_name, action, targets[1:20], coalesce(cardinality(targets), 0), "
                      f"left(arguments::text, 300) from {s}.audit_log order by id desc limit %s::int"),
        # the dashboard's job timeline: actions on one job, since it was created (audit_at's range)
        job_audit=(f"select at, role_name, action from {s}.audit_log "
                   "where at >= %s::timestamptz and targets @> array[%s::text] order by id limit 50"),
        set_dead_letter=f"select {s}.set_dead_letter(%s, task_identifier => %s, queue_name => %s)",
        remove_dead_letter=f"select {s}.remove_dead_letter(task_identifier => %s, queue_name => %s)",
        set_retry_policy=(f"select {s}.set_retry_policy(%s, %s, %s::float8, %s::float8, %s::float8)"),
        remove_retry_policy=f"select {s}.remove_retry_policy(%s)",
        set_limit=(f"select key from {s}.set_limit(%s, max_running => %s::int, max_per_period => %s::int, "
                   "period => %s::interval, burst => %s::int)"),
        remove_limit=f"select {s}.remove_limit(%s)",
        list_limits=f"select {', '.join(LIMIT_COLUMNS)} from {s}.list_limits()",
        pause_limit_key=f"select {s}.pause_limit_key(%s, %s::interval)",
        set_priority_aging=f"select {s}.set_priority_aging(%s::interval, %s::int)",
        priority_aging=f"select step, max_steps from {s}.priority_aging()",
        # pgrun.testing: the jobs of a task (or all), in some states (or all)
        task_jobs=(f"select {_ROW_COLUMNS} from {s}._private_jobs "
                   "where (%s::text is null or task_identifier = %s::text) "
                   "and (%s::text[] is null or state = any(%s::text[])) order by id"),
        listen=sql.SQL("listen {}; listen {}").format(
            sql.Identifier(f"{schema}:jobs"), sql.Identifier(f"{schema}:cancel")).as_string(None),
        cancel_channel=f"{schema}:cancel",
        cancel_requests=f"select job_id, lease, reason from {s}.cancel_requests(%s)",
        get_result=f"select state, result, last_error, finished_at from {s}.get_result(%s::bigint)",
        watch_jobs=f"select {s}.watch_jobs(%s::bigint[])",
        unwatch_jobs=f"select {s}.unwatch_jobs(%s::bigint[])",
        listen_finished=sql.SQL("listen {}").format(sql.Identifier(f"{schema}:finished")).as_string(None),
        unlisten_finished=sql.SQL("unlisten {}").format(sql.Identifier(f"{schema}:finished")).as_string(None),
        grant_enqueue=f"select {s}.grant_enqueue(%s::name, %s::text[], %s::text[])",
        grant_worker=f"select {s}.grant_worker(%s::name)",
        grant_admin=f"select {s}.grant_admin(%s::name)",
        grant_read=f"select {s}.grant_read(%s::name)",
        revoke_all=f"select {s}.revoke_all(%s::name)",
        parent_results=f"select {s}.parent_results(%s::bigint)::text",
        job_steps=f"select name, result::text from {s}.job_steps(%s::bigint)",
        record_job_step=f"select {s}.record_job_step(%s, %s::bigint, %s::bigint, %s, %s::jsonb)",
        start_workflow=f"select {s}.start_workflow(%s, %s::jsonb)",
        list_workflows=(f"select {', '.join(WORKFLOW_COLUMNS)} "
                        f"from {s}.list_workflows(%s, %s::int, %s::bigint)"),
        workflow_steps=f"select {', '.join(WORKFLOW_STEP_COLUMNS)} from {s}.workflow_steps(%s::bigint)",
    )
