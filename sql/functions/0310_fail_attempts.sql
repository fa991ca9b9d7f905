-- A worker reports failed attempts it holds (with their leases). Each job
-- keeps the error (last_error, and the errors history of the last attempts)
-- and is retried at greatest(now(), run_at) + exp(least(attempts, 10))
-- seconds; after its last attempt, or where permanent[i] is true, it is
-- 'failed' and kept as retention says. permanent null (or shorter than the
-- ids) means false for the rest. The wait before the retry is delays[i] where
-- given (a runner's own policy), else the job's or its task's retry policy
-- (set_retry_policy), else the backoff above.
-- Answers every id: 'retryable' or 'failed' (with the job's new run_at and
-- attempts), 'cancelled' (its cancel was asked while it ran: it ends
-- cancelled, not retried), 'busy' (try again later) or 'lost'.
create or replace function @schema@.fail_attempts(
  worker_id text,
  job_ids bigint[],
  leases bigint[],
  error_messages text[],
  permanent boolean[] default null,
  delays interval[] default null
) returns table (job_id bigint, outcome text, run_at timestamptz, attempts smallint, max_attempts smallint)
language plpgsql volatile
-- plans made once per session, not per call (docs/internals.md, "Plans")
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_lock record;
  v_permanent bigint[];
begin
  if fail_attempts.permanent is not null then
    if cardinality(fail_attempts.permanent) > cardinality(fail_attempts.job_ids) then
      raise exception 'permanent has % elements but job_ids has %', cardinality(fail_attempts.permanent),
        cardinality(fail_attempts.job_ids) using errcode = '22023';
    end if;
    v_permanent := array(select p.id from unnest(fail_attempts.job_ids, fail_attempts.permanent) as p(id, permanent)
                         where p.permanent);
  end if;
  if fail_attempts.delays is not null then
    if cardinality(fail_attempts.delays) > cardinality(fail_attempts.job_ids) then
      raise exception 'delays has % elements but job_ids has %', cardinality(fail_attempts.delays),
        cardinality(fail_attempts.job_ids) using errcode = '22023';
    end if;
    if exists (select from unnest(fail_attempts.delays) as d where d < interval '0') then
      raise exception 'delays must not be negative' using errcode = '22023';
    end if;
  end if;
  v_lock := @schema@._lock_attempts(fail_attempts.worker_id, fail_attempts.job_ids, fail_attempts.leases);
  return query
  select e.job_id, e.state, e.run_at, e.attempts, e.max_attempts
  from @schema@._end_attempts(v_lock.held, 'failed',
    jsonb_object(fail_attempts.job_ids::text[], fail_attempts.error_messages), null, now(),
    nullif(v_permanent, '{}'),
    case when fail_attempts.delays is not null then
      (select jsonb_object_agg(d.id::text, d.delay) from unnest(fail_attempts.job_ids, fail_attempts.delays)
         as d(id, delay) where d.delay is not null and d.id is not null) end) as e
  where v_lock.held is not null
  union all select b, 'busy', null, null, null from unnest(v_lock.busy) as b
  union all select l, 'lost', null, null, null from unnest(v_lock.lost) as l;
end;
$$;

-- Schema 1's batch failure, without leases (see complete_held_jobs): returns
-- the failed jobs as they now are.
create or replace function @schema@.fail_held_jobs(
  worker_id text,
  job_ids bigint[],
  error_messages text[]
) returns setof @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[];
begin
  select array_agg(f.job_id) into v_ids
  from @schema@.fail_attempts(fail_held_jobs.worker_id, fail_held_jobs.job_ids,
    @schema@._current_leases(fail_held_jobs.worker_id, fail_held_jobs.job_ids),
    fail_held_jobs.error_messages) as f
  where f.outcome in ('retryable', 'failed');
  -- a statement of its own: one that joined fail_attempts' answer to the
  -- table would still see the rows as they were before it
  return query select * from @schema@._private_jobs as j where j.id = any(v_ids) order by j.id;
end;
$$;

-- Graphile Worker's fail_job; refuses a job the worker does not hold.
create or replace function @schema@.fail_job(
  worker_id text,
  job_id bigint,
  error_message text
) returns @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_job @schema@._private_jobs;
begin
  select * into v_job from @schema@._private_jobs as j
  where j.id = fail_job.job_id and j.state = 'running' and j.locked_by = fail_job.worker_id
  for update;
  if not found then
    raise exception 'job % is not held by worker %', fail_job.job_id, quote_nullable(fail_job.worker_id)
      using errcode = '55000';
  end if;
  if v_job.queue_name is not null then
    perform from @schema@._private_job_queues as q where q.queue_name = v_job.queue_name for no key update;
  end if;
  perform @schema@._end_attempts(array[v_job.id], 'failed', jsonb_build_object(v_job.id::text, fail_job.error_message));
  select * into v_job from @schema@._private_jobs as j where j.id = fail_job.job_id;
  return v_job;
end;
$$;
