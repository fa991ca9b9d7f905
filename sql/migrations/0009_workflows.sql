-- Workflows (schema version 9): job dependencies, workflows with compensation,
-- durable steps inside one job. Every schema change of the feature is in this
-- one file. Adding nullable columns rewrites nothing; the lock keeps claims and
-- outcomes out for the moment it takes, and serialises ten migrating workers.
lock table @schema@._private_jobs in access exclusive mode;

alter table @schema@._private_jobs
  -- the jobs this one waits for (add_job's depends_on), as given, resolved to ids
  add column depends_on bigint[],
  -- what each parent that completed returned, by parent id (as text): the
  -- parent's row may leave at once (retention), its result stays with its child
  add column parent_results jsonb,
  -- true while the end of this job concerns others: blocked jobs that depend on
  -- it, or the workflow it is a step of. Jobs without it end as before (the
  -- one-statement completion, _delete_plain_completions, takes only those).
  add column has_followers boolean,
  -- the workflow this job is a step (or a compensation) of
  add column workflow_id bigint;

-- Jobs whose end concerns others, among those ending: almost always none, so
-- the look costs a page whatever the table holds.
create index jobs_followers on @schema@._private_jobs (id) where has_followers;

-- Which blocked jobs wait for which unfinished parent. A row lives from the
-- child's add_job until its parent ends (completed: the child records the
-- result; failed or cancelled: the child is cancelled).
create table @schema@._private_job_dependencies (
  parent_id  bigint not null,
  job_id     bigint not null,
  primary key (parent_id, job_id)
);
create index job_dependencies_job on @schema@._private_job_dependencies (job_id);

alter type @schema@.job_spec add attribute depends_on bigint[];

-- A workflow: steps (jobs) with dependencies, and a compensation task per step.
create table @schema@._private_workflows (
  id           bigint generated always as identity primary key,
  name         text not null,
  state        text not null default 'running',
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  finished_at  timestamptz,
  -- why it is compensating, compensated or failed, in words
  reason       text,
  constraint workflows_state_known check (state in
    ('running', 'completed', 'failed', 'compensating', 'compensated')),
  constraint workflows_name_length check (length(name) between 1 and 128)
);
create index workflows_created on @schema@._private_workflows (created_at);

-- Its steps. position: the step's place in a topological order (a step comes
-- after those it depends on); compensations run by descending position.
create table @schema@._private_workflow_steps (
  workflow_id          bigint not null references @schema@._private_workflows (id) on delete cascade,
  name                 text not null,
  position             integer not null,
  job_id               bigint not null,
  task_identifier      text not null,
  depends_on           text[] not null default '{}',
  compensate           text,
  compensate_max_attempts smallint,
  payload              jsonb not null default '{}',  -- the step's, for its compensation
  -- pending (its job waits or runs), completed, failed, cancelled,
  -- compensating (its compensation job waits or runs), compensated
  state                text not null default 'pending',
  result               jsonb,
  compensation_job_id  bigint,
  updated_at           timestamptz not null default now(),
  primary key (workflow_id, name),
  constraint workflow_steps_state_known check (state in
    ('pending', 'completed', 'failed', 'cancelled', 'compensating', 'compensated', 'compensation failed'))
);
create unique index workflow_steps_job on @schema@._private_workflow_steps (job_id);
create unique index workflow_steps_compensation on @schema@._private_workflow_steps (compensation_job_id)
  where compensation_job_id is not null;

-- Durable steps inside one job (helpers.step): a retried attempt finds what
-- the steps that already completed returned. maintain() forgets the steps of
-- jobs that are gone or final.
create table @schema@._private_job_steps (
  job_id       bigint not null,
  name         text not null,
  result       jsonb,
  recorded_at  timestamptz not null default now(),
  primary key (job_id, name),
  constraint job_steps_name_length check (length(name) between 1 and 200)
);

create or replace view @schema@.jobs as
  select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts,
         last_error, created_at, updated_at, key, locked_at, locked_by, revision,
         flags, payload, errors, state, finished_at, keep_until, result,
         cancel_requested_at, cancel_reason, timeout, dead_letter_job_id, meta,
         depends_on, parent_results, workflow_id
  from @schema@._private_jobs;

-- Signatures that changed (absent on a fresh install: every migration runs
-- before the functions are created); the functions are re-created after.
drop function if exists @schema@.add_job(text, json, text, timestamptz, integer, text, integer, text[], text,
                                         interval, jsonb);
