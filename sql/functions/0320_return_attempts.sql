-- A worker hands back attempts it claimed but never started (its buffer at
-- shutdown): the jobs are available again, the attempt given back, as if
-- never claimed. Answers every id: 'returned', 'cancelled' (its cancel was
-- asked meanwhile: it ends cancelled), 'busy' or 'lost'.
create or replace function @schema@.return_attempts(
  worker_id text,
  job_ids bigint[],
  leases bigint[]
) returns table (job_id bigint, outcome text)
language plpgsql volatile
-- plans made once per session, not per call (docs/internals.md, "Plans")
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_lock record;
begin
  v_lock := @schema@._lock_attempts(return_attempts.worker_id, return_attempts.job_ids,
                                    return_attempts.leases);
  return query
  select e.job_id, case when e.state = 'cancelled' then 'cancelled' else 'returned' end
  from @schema@._end_attempts(v_lock.held, 'returned') as e
  where v_lock.held is not null
  union all select b, 'busy' from unnest(v_lock.busy) as b
  union all select l, 'lost' from unnest(v_lock.lost) as l;
end;
$$;

-- Schema 1's give-back, without leases; returns the ids given back.
create or replace function @schema@.return_held_jobs(
  worker_id text,
  job_ids bigint[]
) returns setof bigint
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
  select r.job_id from @schema@.return_attempts(return_held_jobs.worker_id, return_held_jobs.job_ids,
    @schema@._current_leases(return_held_jobs.worker_id, return_held_jobs.job_ids)) as r
  where r.outcome = 'returned';
$$;

-- Jobs still running under a lock older than job_expiry whose worker never
-- registered (a Graphile-style runner without heartbeats) are presumed
-- abandoned: released, the attempt counted. Registered workers' jobs are
-- never expired this way: their leases decide (reap_workers).
create or replace function @schema@._release_expired_locks(
  job_expiry interval,
  now timestamptz
) returns integer
language plpgsql volatile
as $$
declare
  v_ids bigint[];
  v_queues text[];
begin
  select array_agg(j.id order by j.id), array_agg(j.queue_name order by j.id) into v_ids, v_queues
  from (select j.id, j.queue_name from @schema@._private_jobs as j
        where j.state = 'running' and j.locked_at < _release_expired_locks.now - _release_expired_locks.job_expiry
          and not exists (select from @schema@._private_workers as w where w.worker_id = j.locked_by)
        order by j.id
        limit 1000
        for update of j skip locked) as j;
  if v_ids is null then
    return 0;
  end if;
  v_ids := @schema@._lock_queues_of(v_ids, v_queues);
  perform @schema@._end_attempts(v_ids, 'released',
    @schema@._same_message(v_ids, format('lock expired after %s: the worker that claimed it never finished it',
                                         _release_expired_locks.job_expiry)),
    null, _release_expired_locks.now);
  return cardinality(v_ids);
end;
$$;

-- The SQL side of job timeouts, so that a runner that does not enforce them
-- cannot hold a job forever: every running attempt whose job has a timeout
-- and began more than timeout + grace ago (setting timeout_grace, 30 seconds
-- by default; the runner stops it itself at the timeout) is ended as failed
-- with "timed out after N s" (_timeout_message), retried by its policy or
-- failed for good (and dead-lettered). Run by maintain(); the
-- jobs_running_timeout index keeps the look cheap. Rows another transaction
-- holds (its worker ending the attempt right now) are skipped: whichever
-- commits first wins.
create or replace function @schema@._time_out_attempts(
  now timestamptz,
  max_rows integer default 1000
) returns integer
language plpgsql volatile
as $$
declare
  v_grace interval := @schema@._setting('timeout_grace', '30 seconds')::interval;
  v_ids bigint[];
  v_queues text[];
  v_messages jsonb;
begin
  select array_agg(j.id order by j.id), array_agg(j.queue_name order by j.id),
         jsonb_object_agg(j.id::text, @schema@._timeout_message(j.timeout))
  into v_ids, v_queues, v_messages
  from (select j.id, j.queue_name, j.timeout from @schema@._private_jobs as j
        where j.state = 'running' and j.timeout is not null
          and j.locked_at < _time_out_attempts.now - v_grace - j.timeout  -- jobs_running_timeout
        order by j.id
        limit _time_out_attempts.max_rows
        for update of j skip locked) as j;
  if v_ids is null then
    return 0;
  end if;
  v_ids := @schema@._lock_queues_of(v_ids, v_queues);
  perform @schema@._end_attempts(v_ids, 'failed', v_messages, null, _time_out_attempts.now);
  return cardinality(v_ids);
end;
$$;

-- Graphile Worker's admin functions (complete_jobs, permanently_fail_jobs,
-- reschedule_jobs, remove_job) treat a job locked more than 4 hours ago as not
-- running. Here that holds for workers that never registered (a registered
-- worker's lease decides): of these jobs, those are released first, as
-- _release_expired_locks would, so that the admin function then acts on them
-- like on any job that waits.
create or replace function @schema@._release_expired_jobs(
  job_ids bigint[]
) returns void
language plpgsql volatile
as $$
declare
  v_ids bigint[];
  v_queues text[];
begin
  select array_agg(j.id order by j.id), array_agg(j.queue_name order by j.id) into v_ids, v_queues
  from (select j.id, j.queue_name from @schema@._private_jobs as j
        where j.id = any(_release_expired_jobs.job_ids) and j.state = 'running'
          and j.locked_at < now() - interval '4 hours'
          and not exists (select from @schema@._private_workers as w where w.worker_id = j.locked_by)
        order by j.id
        for update of j skip locked) as j;
  if v_ids is null then
    return;
  end if;
  v_ids := @schema@._lock_queues_of(v_ids, v_queues);
  perform @schema@._end_attempts(v_ids, 'released',
    @schema@._same_message(v_ids, format('lock expired after %s: the worker that claimed it never finished it',
                                         interval '4 hours')));
end;
$$;

-- The attempts this worker holds, with their leases (the jobs_running index):
-- after a claim whose answer was lost, a runner gives back the ones it never saw.
create or replace function @schema@.held_attempts(
  worker_id text
) returns table (job_id bigint, lease bigint)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select j.id, j.lease from @schema@._private_jobs as j
  where j.state = 'running' and j.locked_by = held_attempts.worker_id
  order by j.id;
$$;
