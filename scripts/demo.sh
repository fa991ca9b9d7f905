#!/usr/bin/env bash
# The pgrun demo: a fresh database, jobs enqueued from SQL and from Python, and
# a worker running examples/demo_tasks.py for a few seconds, logs and all.
#
#   scripts/demo.sh              # uses PGHOST/PGPORT/PGUSER (default 127.0.0.1:5432, postgres)
#   DEMO_SECONDS=10 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=postgres}"
export PGHOST PGPORT PGUSER
PYTHON=$(realpath -s "${PYTHON:-$root/.venv/bin/python}")
PGRUN=${PGRUN:-$(dirname "$PYTHON")/pgrun}
DEMO_DB=${DEMO_DB:-pgrun_demo}
DEMO_SECONDS=${DEMO_SECONDS:-6}
# The demo's own database; a DATABASE_URL of yours is left alone.
export DATABASE_URL="dbname=$DEMO_DB" PGDATABASE="$DEMO_DB"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a fresh database: $DEMO_DB on $PGHOST:$PGPORT"
dropdb --if-exists "$DEMO_DB"
createdb "$DEMO_DB"

step "pgrun migrate"
"$PGRUN" migrate

step "jobs from SQL (a trigger, and add_job called directly)"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
create table signups (email text not null);
create function enqueue_welcome() returns trigger language plpgsql as $$
begin
  perform pgrun.add_job('emails.send', json_build_object('to', new.email, 'subject', 'Welcome!'));
  return new;
end $$;
create trigger welcome after insert on signups for each row execute function enqueue_welcome();
insert into signups values ('ada@example.com'), ('grace@example.com');

select id, task_identifier from pgrun.add_job('greet', '{"name": "SQL"}');
select id, task_identifier
from pgrun.add_job('flaky.fetch', '{"url": "https://example.com/feed"}', max_attempts => 3);
\echo every job now:
select id, task_identifier, payload, run_at::time(0) from pgrun.jobs order by id;
SQL

step "jobs from Python (pgrun.WorkerUtils)"
"$PYTHON" - <<'PY'
from datetime import datetime, timedelta, timezone

import pgrun

with pgrun.WorkerUtils() as utils:
    soon = datetime.now(timezone.utc) + timedelta(seconds=2)
    jobs = utils.add_jobs([
        pgrun.JobSpec("greet", {"name": "Python"}),
        pgrun.JobSpec("reports.build", {"report": "Q3"}, queue_name="reports", job_key="report:Q3"),
        pgrun.JobSpec("greet", {"name": "the future (2 s from now)"}, run_at=soon),
    ])
    for job in jobs:
        print(f"added job {job.id} ({job.task_identifier}) {job.payload}")
PY

step "cron: examples/crontab, as if the workers had been down for the last 3 minutes"
# Pretend an earlier worker ran the minutely item 3 minutes ago: with fill=5m
# the worker backfills the ticks it missed, each once, marked backfilled.
psql -X -q -v ON_ERROR_STOP=1 -c "insert into pgrun._private_known_crontabs (item_id, known_since, last_execution)
  values ('minutely-greeting', now() - interval '1 hour', date_trunc('minute', now()) - interval '3 minutes')"
"$PGRUN" cron list --crontab examples/crontab

step "a worker for $DEMO_SECONDS s: pgrun --tasks demo_tasks --crontab crontab (then SIGINT: a graceful stop)"
cd "$root/examples"
status=0
timeout -s INT "$DEMO_SECONDS" "$PGRUN" --tasks demo_tasks --crontab crontab --concurrency 4 || status=$?
# timeout says 124 when it had to send the signal; the worker itself stopped cleanly.
if [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; then
  echo "the worker exited with status $status" >&2
  exit "$status"
fi

step "left in pgrun.jobs (empty when every job succeeded)"
psql -X -q -c "select id, task_identifier, attempts, max_attempts, last_error from pgrun.jobs order by id"
