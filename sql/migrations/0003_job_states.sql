-- pgrun schema 2 (migration 3): explicit job states, a lease per attempt,
-- queues as rows, retention, results, roles. Upgrades a schema-1 database in
-- place: every job keeps its data and gets the state its columns imply.
-- Tokens: @schema@ is the quoted schema identifier.

-- ---------------------------------------------------------------- jobs

-- Every table this changes, locked up front in one order, so that a schema-1
-- worker's statement running now cannot deadlock with the upgrade.
lock table @schema@._private_workers, @schema@._private_jobs, @schema@._private_job_queues
  in access exclusive mode;

-- The view reads the payload column, whose type changes; it is made again below.
drop view @schema@.jobs;
-- Functions whose arguments changed (the function files make the new ones).
drop function if exists @schema@._notify_jobs(timestamptz);
drop function if exists @schema@._check_job_spec(text, text, text, integer, text, integer);

alter table @schema@._private_jobs
  add column state text,
  -- the claim (one per get_jobs/claim_jobs call) that holds this attempt;
  -- an outcome must present it, so a late write of attempt 1 cannot touch attempt 2
  add column lease bigint,
  -- when the job reached its final state, and until when retention keeps it
  -- (null: kept until removed)
  add column finished_at timestamptz,
  add column keep_until timestamptz,
  -- what the handler returned (completed jobs that retention keeps)
  add column result jsonb,
  -- set only for jobs added by a role with a restricted enqueue grant: such a
  -- role may see and replace its own jobs, never anyone else's
  add column created_by name;

-- json accepts what jsonb refuses (\u0000, lone surrogates): such a payload is
-- kept as its text under one key rather than blocking the upgrade.
create function @schema@._payload_as_jsonb(payload json) returns jsonb
language plpgsql immutable as $$
begin
  return payload::jsonb;
exception when untranslatable_character or invalid_text_representation then
  return jsonb_build_object('pgrun_unconvertible_payload', replace(payload::text, '\u0000', '\\u0000'));
end $$;
alter table @schema@._private_jobs alter column payload drop default;
alter table @schema@._private_jobs alter column payload type jsonb using @schema@._payload_as_jsonb(payload);
alter table @schema@._private_jobs alter column payload set default '{}'::jsonb;
drop function @schema@._payload_as_jsonb(json);

-- Schema 1 had no states; its columns say which one each job is in.
update @schema@._private_jobs set state = case
    when locked_at is not null then 'running'
    when attempts >= max_attempts then 'failed'
    when run_at > now() and attempts = 0 then 'scheduled'
    when run_at > now() then 'retryable'
    else 'available'
  end,
  finished_at = case when locked_at is null and attempts >= max_attempts then updated_at end;

alter table @schema@._private_jobs
  alter column state set not null,
  add constraint jobs_state_known check (state in
    ('scheduled', 'available', 'running', 'retryable', 'blocked', 'completed', 'failed', 'cancelled')),
  add constraint jobs_running_is_locked check ((state = 'running') = (locked_by is not null)),
  add constraint jobs_finished_when_final check
    ((state in ('completed', 'failed', 'cancelled')) = (finished_at is not null));

-- The claim and every state change rewrite a row's indexed columns, so no
-- update of a job is HOT and free space in its pages buys nothing.
alter table @schema@._private_jobs reset (fillfactor);
-- A queue table turns over all its rows many times a day: vacuum it after a
-- small share of changes rather than the default 20 %.
alter table @schema@._private_jobs set (
  autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 1);

drop index @schema@.jobs_ready_unqueued;
drop index @schema@.jobs_ready_queued;
drop index @schema@.jobs_locked;

-- A key belongs to one live job. Failed jobs keep theirs, as in Graphile Worker
-- (they stay in the table); retained completed and cancelled jobs do not
-- block it, and keep their key only for display.
alter table @schema@._private_jobs drop constraint jobs_key_unique;
create unique index jobs_key on @schema@._private_jobs (key)
  where key is not null and state not in ('completed', 'cancelled');

-- The claim reads only these two: runnable jobs without a queue, per task so
-- that another task's backlog costs nothing...
create index jobs_available on @schema@._private_jobs (task_identifier, priority, run_at, id)
  where state = 'available' and queue_name is null;
-- ...and each ready queue's next jobs (see _private_queue_heads).
create index jobs_available_queued on @schema@._private_jobs (queue_name, priority, run_at, id)
  where state = 'available' and queue_name is not null;
-- Waiting for run_at: promoted to available when it comes; per task, so a
-- worker learns when its own next job is due.
create index jobs_due on @schema@._private_jobs (task_identifier, run_at)
  where state in ('scheduled', 'retryable');
-- Attempts in flight, by worker: its own jobs, reaping, give-back.
create index jobs_running on @schema@._private_jobs (locked_by, id) where state = 'running';
-- Final jobs that retention will remove.
create index jobs_expiring on @schema@._private_jobs (keep_until) where keep_until is not null;

-- ---------------------------------------------------------------- queues

-- A queue is a row with what the claim needs: how many of its jobs may run at
-- once (1: Graphile Worker's serial queue), how many do, and whether it is paused.
alter table @schema@._private_job_queues
  add column max_running integer not null default 1,
  add column running integer not null default 0,
  add column paused boolean not null default false,
  add column created_at timestamptz not null default now(),
  add constraint job_queues_max_running_positive check (max_running >= 1),
  add constraint job_queues_running_not_negative check (running >= 0);

update @schema@._private_job_queues as q
set running = (select count(*) from @schema@._private_jobs as j
               where j.queue_name = q.queue_name and j.state = 'running');

alter table @schema@._private_job_queues drop column locked_at, drop column locked_by;
-- Counters change on every claim and completion; room in the page keeps those updates HOT.
alter table @schema@._private_job_queues set (fillfactor = 70,
  autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 500);

-- Where the claim finds named queues that can give it a job: one or more
-- rows per queue that has available jobs and room to run one, keyed by a
-- hint of its next job (priority, run_at, id) so queues are visited in the
-- order their jobs would run. A row is a promise, never a proof: the claim
-- re-checks the queue and its jobs. Who adds and who removes rows, and why no
-- job is ever stranded, is explained in docs/internals.md.
create table @schema@._private_queue_heads (
  id          bigint generated always as identity primary key,
  queue_name  text not null,
  priority    smallint not null,
  run_at      timestamptz not null,
  job_id      bigint not null
) with (fillfactor = 90);
create index queue_heads_order on @schema@._private_queue_heads (priority, run_at, job_id);
create index queue_heads_queue on @schema@._private_queue_heads (queue_name);
alter table @schema@._private_queue_heads set (
  autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 500);

insert into @schema@._private_queue_heads (queue_name, priority, run_at, job_id)
select distinct on (j.queue_name) j.queue_name, j.priority, j.run_at, j.id
from @schema@._private_jobs as j
join @schema@._private_job_queues as q on q.queue_name = j.queue_name
where j.state = 'available' and q.running < q.max_running
order by j.queue_name, j.priority, j.run_at, j.id;

-- ---------------------------------------------------------------- workers

-- A worker's row is its lease on every job it runs: renewing it (one row per
-- beat) renews them all. A reaped worker's row stays, marked, so that the
-- worker learns it when it next beats or claims.
alter table @schema@._private_workers
  add column heartbeat_interval interval not null default interval '5 seconds',
  add column lease_timeout interval not null default interval '20 seconds',
  -- start of this worker's unbroken run of beats; it may reap others only once
  -- that run is a full timeout long (after an outage, everyone starts again)
  add column beating_since timestamptz,
  add column reaped_at timestamptz,
  add column reaped_by text,
  -- set while its last claim found nothing: only then do enqueuers NOTIFY
  add column idle_since timestamptz,
  -- 1: registered by a schema-1 runner, which must stop; 2: leases
  add column protocol smallint not null default 2;

update @schema@._private_workers set protocol = 1, beating_since = last_heartbeat_at;
alter table @schema@._private_workers alter column beating_since set default now();
alter table @schema@._private_workers alter column beating_since set not null;
-- Beats update a non-indexed column of a small table: keep them HOT.
alter table @schema@._private_workers set (fillfactor = 50,
  autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 200);

create sequence @schema@._private_lease_ids as bigint cache 16;

-- Schema 1's claims had no lease. A job that a schema-1 worker runs during the
-- upgrade gets one, or its runner's last outcome (complete_held_jobs,
-- fail_held_jobs, return_held_jobs: they present the job's current lease)
-- would find no attempt to end, and the job would run again.
update @schema@._private_jobs set lease = nextval('@schema@._private_lease_ids')
where state = 'running';

-- ---------------------------------------------------------------- settings

-- Retention of final jobs. The most specific row wins: task, then queue, then
-- the default row (both null). An interval of 0 removes at once; null keeps
-- until removed. With no row: completed jobs are removed, failed and cancelled kept.
create table @schema@._private_retention (
  task_identifier  text,
  queue_name       text,
  completed        interval,
  failed           interval,
  cancelled        interval,
  constraint retention_one_scope check (task_identifier is null or queue_name is null)
);
create unique index retention_scope on @schema@._private_retention
  (coalesce(task_identifier, ''), coalesce(queue_name, ''), (task_identifier is null), (queue_name is null));

-- Callers waiting for a job's result (WorkerUtils.wait_for): its outcome is
-- announced on "<schema>:finished" and its row kept for a while.
create table @schema@._private_job_waiters (
  job_id  bigint not null,
  since   timestamptz not null default now()
);
create index job_waiters_job on @schema@._private_job_waiters (job_id);

-- What pgrun grant gave to whom, so that functions added by later upgrades
-- are granted too; tasks/queues restrict an enqueue grant (null: any).
create table @schema@._private_grants (
  role_name   name not null,
  kind        text not null,
  tasks       text[],
  queues      text[],
  constraint grants_kind_known check (kind in ('enqueue', 'worker', 'admin', 'read')),
  primary key (role_name, kind)
);

-- Payload cap, error history bounds, NOTIFY and maintenance settings live in
-- _private_settings (created by the installer) under these names.
insert into @schema@._private_settings (name, value) values
  ('payload_max_bytes', '1048576'),
  ('error_history_length', '10'),
  ('error_entry_max_chars', '4000'),
  ('last_error_max_chars', '16000')
on conflict (name) do nothing;

-- When the last NOTIFY that woke idle workers was sent, in microseconds since
-- 1970 (see _notify_jobs). A sequence, because setting it takes no lock and
-- every session sees it at once, whether or not the sender has committed.
create sequence @schema@._private_last_nudge as bigint minvalue 0 start 0;

-- ---------------------------------------------------------------- views

create view @schema@.jobs as
  select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts,
         last_error, created_at, updated_at, key, locked_at, locked_by, revision,
         flags, payload, errors, state, finished_at, keep_until, result
  from @schema@._private_jobs;
