-- (_delete_plain_completions, its name before it kept jobs under retention)
drop function if exists @schema@._delete_plain_completions(text, bigint[], bigint[]);

-- The common completion in one statement: jobs this worker holds under these
-- leases that nothing else concerns (no limit key, no cancel asked, nobody
-- waiting, no followers: no job depends on it, no workflow) are locked with
-- their named queues' rows, skipping rows another transaction holds (as
-- _lock_attempts does: jobs in id order, then queues in name order), and then
-- either deleted or, where a retention rule keeps completed jobs of their task
-- and queue, kept completed with their result (results: job id as text ->
-- result). Their queues then get their room back (_give_queue_room).
-- Returns the ids it ended; the rest go the long way (_lock_attempts,
-- _end_attempts), which has every rule. Half the work of locking first and
-- ending after, and none of the long way's cases for what these jobs are not.
create or replace function @schema@._end_plain_completions(
  worker_id text,
  job_ids bigint[],
  leases bigint[],
  results jsonb
) returns bigint[]
language plpgsql volatile
as $$
declare
  v_retention boolean := exists (select from @schema@._private_retention);
  v_now timestamptz := now();
  -- the lease asked for each id, looked up per row (see _end_attempts)
  v_leases jsonb;
  v_ended bigint[];
  v_queues text[];  -- the ended jobs' queues, one entry per queued job
  v_tasks text[];
  v_counts integer[];
begin
  if exists (select from @schema@._private_job_waiters as w where w.job_id = any(_end_plain_completions.job_ids)) then
    return null;
  end if;
  v_leases := jsonb_object(_end_plain_completions.job_ids::text[], _end_plain_completions.leases::text[]);
  -- Locked first (skipping rows others hold), then deleted or updated by their
  -- row address: a locked row cannot move, and a second lookup of each id in
  -- the primary key would cost as much again as the lock's.
  with locked as materialized (
    -- Found by id (the primary key). `state is not distinct from` (state is
    -- never null: the same as `=`) implies no partial index's predicate, so
    -- no plan can scan jobs_running instead: generic plans made when few jobs
    -- ran did, reading all of the worker's entries there, dead ones included,
    -- which grow without bound while a long transaction keeps vacuum from
    -- removing finished attempts (docs/reliability.md#bloat).
    select l.ctid, l.task_identifier, l.queue_name from @schema@._private_jobs as l
    where l.id = any(_end_plain_completions.job_ids)
      and l.state is not distinct from 'running'
      and l.locked_by = _end_plain_completions.worker_id
      and l.lease = (v_leases ->> l.id::text)::bigint
      and l.cancel_requested_at is null and l.limit_keys is null
      and l.has_followers is not true
    order by l.id
    for update of l skip locked
  ), queues as materialized (  -- a queue row held elsewhere: its jobs go the long way
    -- (= any of an array, not a join: the generic plan made while no queue
    -- row exists must still look the rows up in the primary key once there
    -- are 10,000; a semi join planned then scans them all)
    select q.queue_name from @schema@._private_job_queues as q
    where q.queue_name = any(array(select l.queue_name from locked as l where l.queue_name is not null))
    order by q.queue_name
    for no key update of q skip locked
  ), rules as materialized (  -- retention (0030_retention.sql), once per task and queue among these jobs
    select d.task_identifier, d.queue_name,
           @schema@._keep_until(d.task_identifier, nullif(d.queue_name, ''), 'completed', v_now) as keep_until
    from (select distinct l.task_identifier, coalesce(l.queue_name, '') as queue_name from locked as l) as d
    where v_retention
  ), plan as (
    select l.ctid, l.task_identifier, l.queue_name, r.keep_until,
           -- without a rule completed jobs leave at once; null keeps them until removed
           v_retention and (r.keep_until is null or r.keep_until > v_now) as kept
    from locked as l left join rules as r on r.task_identifier = l.task_identifier
                                          and r.queue_name = coalesce(l.queue_name, '')
    where l.queue_name is null or l.queue_name = any(array(select q.queue_name from queues as q))
  ), deleted as (
    delete from @schema@._private_jobs as j using plan as p
    where j.ctid = p.ctid and not p.kept
    returning j.id, j.task_identifier, j.queue_name
  ), kept as (
    update @schema@._private_jobs as j set
      state = 'completed',
      result = _end_plain_completions.results -> j.id::text,
      locked_at = null,
      locked_by = null,
      finished_at = v_now,
      keep_until = p.keep_until,
      updated_at = v_now
    from plan as p
    where j.ctid = p.ctid and p.kept
    returning j.id, j.task_identifier, j.queue_name
  ), ended as (
    select * from deleted union all select * from kept
  ), tasks as (  -- one line per task for the counts, not one per job
    select e.task_identifier, count(*)::integer as n from ended as e group by e.task_identifier
  )
  select (select array_agg(e.id) from ended as e),
         (select array_agg(e.queue_name) filter (where e.queue_name is not null) from ended as e),
         (select array_agg(t.task_identifier) from tasks as t), (select array_agg(t.n) from tasks as t)
  into v_ended, v_queues, v_tasks, v_counts;
  if v_ended is null then
    return null;
  end if;
  -- the per-minute outcome counts, as _end_attempts writes them
  perform @schema@._count_outcomes(
    array_fill(_end_plain_completions.worker_id, array[cardinality(v_tasks)]), v_tasks,
    array_fill('completed'::text, array[cardinality(v_tasks)]), v_now, v_counts);
  if v_queues is not null
     and @schema@._give_queue_room(v_queues, array_fill('completed'::text, array[cardinality(v_queues)])) then
    perform @schema@._notify_jobs();  -- a full queue has room again and a job ready
  end if;
  return v_ended;
end;
$$;

-- A worker finishes attempts it holds. Each id comes with the lease its claim
-- returned; results[i] (optional) is what the handler returned, kept while
-- retention keeps the job. Rows another transaction holds are not waited for:
-- their ids come back 'busy', to be sent again. Answers every id:
-- 'completed', 'cancelled' (its cancel was asked while it ran: it ends
-- cancelled, its result is not kept), 'busy', or 'lost' (not this worker's
-- attempt any more).
create or replace function @schema@.complete_attempts(
  worker_id text,
  job_ids bigint[],
  leases bigint[],
  results jsonb[] default null
) returns table (job_id bigint, outcome text)
language plpgsql volatile
-- plans made once per session, not per call (docs/internals.md, "Plans")
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_ids bigint[] := complete_attempts.job_ids;
  v_leases bigint[] := complete_attempts.leases;
  v_done bigint[];
  v_lock record;
  -- what the handlers returned, keyed by job id (as text), as both paths take it
  v_results jsonb := (select jsonb_object_agg(r.id::text, r.result)
                      from unnest(complete_attempts.job_ids, complete_attempts.results) as r(id, result)
                      where r.result is not null);
begin
  if cardinality(v_ids) is distinct from cardinality(v_leases) then
    raise exception 'job_ids and leases must have the same length (% and %)',
      coalesce(cardinality(v_ids)::text, 'NULL'), coalesce(cardinality(v_leases)::text, 'NULL')
      using errcode = '22023';
  end if;
  v_done := @schema@._end_plain_completions(complete_attempts.worker_id, v_ids, v_leases, v_results);
  if cardinality(v_done) = cardinality(v_ids) then
    return query select d, 'completed'::text from unnest(v_done) as d;
    return;
  elsif v_done is not null then  -- the others go the long way
    select array_agg(a.id order by a.n), array_agg(a.lease order by a.n) into v_ids, v_leases
    from unnest(v_ids, v_leases) with ordinality as a(id, lease, n)
    where not a.id = any(v_done);
  end if;
  v_lock := @schema@._lock_attempts(complete_attempts.worker_id, v_ids, v_leases);
  return query
  select d, 'completed'::text from unnest(v_done) as d
  union all
  select e.job_id, e.state from @schema@._end_attempts(v_lock.held, 'completed', null, v_results) as e
  where v_lock.held is not null
  union all select b, 'busy' from unnest(v_lock.busy) as b
  union all select l, 'lost' from unnest(v_lock.lost) as l;
end;
$$;

-- The lease under which this worker holds each of these jobs now (null for a
-- job it does not hold): what the token-less, Graphile-style calls below use.
create or replace function @schema@._current_leases(
  worker_id text,
  job_ids bigint[]
) returns bigint[]
language sql stable
as $$
  select array_agg(j.lease order by i.n)
  from unnest(_current_leases.job_ids) with ordinality as i(id, n)
  left join @schema@._private_jobs as j
    on j.id = i.id and j.state = 'running' and j.locked_by = _current_leases.worker_id;
$$;

-- Schema 1's batch completion, without leases (for runners of that schema
-- finishing their work during an upgrade): completes the jobs this worker
-- holds, whatever attempt; returns the ids it completed.
create or replace function @schema@.complete_held_jobs(
  worker_id text,
  job_ids bigint[]
) returns setof bigint
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
  select c.job_id from @schema@.complete_attempts(complete_held_jobs.worker_id, complete_held_jobs.job_ids,
    @schema@._current_leases(complete_held_jobs.worker_id, complete_held_jobs.job_ids)) as c
  where c.outcome = 'completed';
$$;

-- Graphile Worker's complete_job: returns the job as it was; refuses a job
-- the worker does not hold. It waits for a row another transaction holds.
create or replace function @schema@.complete_job(
  worker_id text,
  job_id bigint
) returns @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_job @schema@._private_jobs;
begin
  select * into v_job from @schema@._private_jobs as j
  where j.id = complete_job.job_id and j.state = 'running' and j.locked_by = complete_job.worker_id
  for update;
  if not found then
    raise exception 'job % is not held by worker %', complete_job.job_id, quote_nullable(complete_job.worker_id)
      using errcode = '55000';
  end if;
  if v_job.queue_name is not null then
    perform from @schema@._private_job_queues as q where q.queue_name = v_job.queue_name for no key update;
  end if;
  perform @schema@._end_attempts(array[v_job.id], 'completed');
  return v_job;
end;
$$;
