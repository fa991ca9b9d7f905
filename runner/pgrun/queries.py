"""Every SQL statement the runtime sends, rendered once per schema.

The text of a statement never changes for a schema, so psycopg prepares it once
per connection and reuses it (the hot path: claim, complete, fail).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from psycopg import sql

from .job import JOB_COLUMNS
from .sql_files import check_schema_name

_COLUMNS = ", ".join(JOB_COLUMNS)


@dataclass(frozen=True)
class Queries:
    schema: str
    claim: str
    complete: str
    fail: str
    give_back: str
    held_job_ids: str
    heartbeat: str
    unregister: str
    add_job: str
    add_jobs: str
    complete_jobs: str
    permanently_fail_jobs: str
    reschedule_jobs: str
    remove_job: str
    force_unlock_workers: str
    listen: str


@cache
def for_schema(schema: str) -> Queries:
    s = sql.Identifier(check_schema_name(schema)).as_string(None)
    return Queries(
        schema=schema,
        claim=(f"select {_COLUMNS} from {s}.get_jobs(%s, %s::text[], "
               "forbidden_flags => %s::text[], max_jobs => %s::int)"),
        complete=f"select c.id from {s}.complete_held_jobs(%s, %s::bigint[]) as c(id)",
        fail=(f"select id, run_at, attempts, max_attempts "
              f"from {s}.fail_held_jobs(%s, %s::bigint[], %s::text[])"),
        give_back=f"select r.id from {s}.return_held_jobs(%s, %s::bigint[]) as r(id)",
        held_job_ids=f"select id from {s}.jobs where locked_by = %s",
        heartbeat=(f"select dead_worker_id, released_jobs "
                   f"from {s}.heartbeat(%s, %s::jsonb, %s::interval)"),
        unregister=f"select {s}.unregister_worker(%s)",
        add_job=(
            f"select {_COLUMNS} from {s}.add_job(identifier => %s, payload => %s::json, "
            "queue_name => %s, run_at => %s::timestamptz, max_attempts => %s::int, job_key => %s, "
            "priority => %s::int, flags => %s::text[], job_key_mode => %s)"
        ),
        # Specs travel as one JSON array; json_populate_recordset turns it into job_spec rows.
        add_jobs=(
            f"select {_COLUMNS} from {s}.add_jobs("
            f"(select coalesce(array_agg(row(r.identifier, r.payload, r.queue_name, r.run_at, "
            f"r.max_attempts, r.job_key, r.priority, r.flags)::{s}.job_spec order by r.n), "
            f"'{{}}'::{s}.job_spec[]) "
            f"from rows from (json_populate_recordset(null::{s}.job_spec, %s::json)) with ordinality "
            "as r(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, n)), "
            "%s)"
        ),
        complete_jobs=f"select {_COLUMNS} from {s}.complete_jobs(%s::bigint[])",
        permanently_fail_jobs=f"select {_COLUMNS} from {s}.permanently_fail_jobs(%s::bigint[], %s)",
        reschedule_jobs=(
            f"select {_COLUMNS} from {s}.reschedule_jobs(%s::bigint[], run_at => %s::timestamptz, "
            "priority => %s::int, attempts => %s::int, max_attempts => %s::int)"
        ),
        remove_job=f"select {_COLUMNS} from {s}.remove_job(%s) where id is not null",
        force_unlock_workers=f"select {s}.force_unlock_workers(%s::text[])",
        listen=sql.SQL("listen {}").format(sql.Identifier(f"{schema}:jobs")).as_string(None),
    )
