-- Claim up to max_jobs runnable jobs for one worker, never two from one named
-- queue. A job is runnable when run_at has come, it has attempts left, it is
-- not locked, no forbidden flag is set and its named queue (if any) is free.
-- Claiming adds one attempt and locks the job (and its queue) to the worker.
create or replace function @schema@.get_jobs(
  worker_id text,
  task_identifiers text[] default null,
  job_expiry interval default interval '4 hours',
  forbidden_flags text[] default null,
  now timestamptz default now(),
  max_jobs integer default 1
) returns setof @schema@._private_jobs
language plpgsql volatile
-- The skip scan's estimate grows with the table and crosses jit_above_cost
-- near a million rows; compiling then costs 30-80 ms per claim for nothing.
set jit = off
as $$
declare
  v_expired_before timestamptz := get_jobs.now - coalesce(get_jobs.job_expiry, interval '4 hours');
begin
  if get_jobs.worker_id is null or length(get_jobs.worker_id) < 10 then
    raise exception 'worker_id must be at least 10 characters (got %)', quote_nullable(get_jobs.worker_id)
      using errcode = '22023';
  end if;
  if get_jobs.max_jobs is null or get_jobs.max_jobs < 1 then
    return;
  end if;

  -- A lock older than job_expiry belongs to a worker presumed dead: free the
  -- job so it can be claimed again (its attempt stays counted).
  if exists (select from @schema@._private_jobs as j
             where j.locked_at is not null and j.locked_at < v_expired_before) then
    update @schema@._private_jobs as j set locked_at = null, locked_by = null
    where j.id in (select e.id from @schema@._private_jobs as e
                   where e.locked_at is not null and e.locked_at < v_expired_before
                   for update skip locked);
  end if;

  return query
  with recursive
  unqueued as (
    select j.id, j.priority, j.run_at, j.queue_name
    from @schema@._private_jobs as j
    where j.queue_name is null and j.locked_at is null and j.attempts < j.max_attempts
      and j.run_at <= get_jobs.now
      and (get_jobs.task_identifiers is null or j.task_identifier = any(get_jobs.task_identifiers))
      and (get_jobs.forbidden_flags is null or j.flags is null or not (j.flags ?| get_jobs.forbidden_flags))
    order by j.priority, j.run_at, j.id
    limit get_jobs.max_jobs
    for update skip locked
  ),
  -- Each named queue that has ready jobs, one index probe per queue: a skip
  -- scan, so the cost follows the number of queues, not of waiting jobs.
  queue_names (queue_name) as (
    (select j.queue_name from @schema@._private_jobs as j
     where j.queue_name is not null and j.locked_at is null and j.attempts < j.max_attempts
     order by j.queue_name limit 1)
    union all
    select (select j.queue_name from @schema@._private_jobs as j
            where j.queue_name is not null and j.queue_name > q.queue_name
              and j.locked_at is null and j.attempts < j.max_attempts
            order by j.queue_name limit 1)
    from queue_names as q
    where q.queue_name is not null
  ),
  free_queues as (
    select q.queue_name
    from @schema@._private_job_queues as q
    where q.queue_name in (select n.queue_name from queue_names as n where n.queue_name is not null)
      and (q.locked_at is null or q.locked_at < v_expired_before)
  ),
  queue_heads as (
    select head.*
    from free_queues as fq
    cross join lateral (
      select j.id, j.priority, j.run_at, j.queue_name
      from @schema@._private_jobs as j
      where j.queue_name = fq.queue_name and j.locked_at is null and j.attempts < j.max_attempts
        and j.run_at <= get_jobs.now
        and (get_jobs.task_identifiers is null or j.task_identifier = any(get_jobs.task_identifiers))
        and (get_jobs.forbidden_flags is null or j.flags is null or not (j.flags ?| get_jobs.forbidden_flags))
      order by j.priority, j.run_at, j.id
      limit 1
    ) as head
  ),
  picked as (
    select c.* from (select * from unqueued union all select * from queue_heads) as c
    order by c.priority, c.run_at, c.id
    limit get_jobs.max_jobs
  ),
  -- Lock the picked queues; a queue another worker is taking right now is skipped.
  locked_queues as (
    select q.queue_name
    from @schema@._private_job_queues as q
    where q.queue_name in (select p.queue_name from picked as p where p.queue_name is not null)
      and (q.locked_at is null or q.locked_at < v_expired_before)
    for update skip locked
  ),
  -- The pick came from the statement's snapshot; FOR UPDATE re-checks these
  -- conditions against the row's latest version, so all of them are repeated.
  locked_heads as (
    select j.id, j.queue_name
    from @schema@._private_jobs as j
    where j.id in (select p.id from picked as p where p.queue_name is not null)
      and j.queue_name in (select lq.queue_name from locked_queues as lq)
      and j.locked_at is null and j.attempts < j.max_attempts
      and j.run_at <= get_jobs.now
      and (get_jobs.task_identifiers is null or j.task_identifier = any(get_jobs.task_identifiers))
      and (get_jobs.forbidden_flags is null or j.flags is null or not (j.flags ?| get_jobs.forbidden_flags))
    for update skip locked
  ),
  queue_claims as (
    update @schema@._private_job_queues as q
    set locked_at = get_jobs.now, locked_by = get_jobs.worker_id
    where q.queue_name in (select lh.queue_name from locked_heads as lh)
  ),
  claim_ids as (
    select p.id from picked as p where p.queue_name is null
    union all
    select lh.id from locked_heads as lh
  )
  update @schema@._private_jobs as j
  set attempts = j.attempts + 1,
      locked_at = get_jobs.now,
      locked_by = get_jobs.worker_id
  from claim_ids as c
  where j.id = c.id
  returning j.*;
end;
$$;

-- Graphile Worker's single-job claim: the next runnable job, or null.
create or replace function @schema@.get_job(
  worker_id text,
  task_identifiers text[] default null,
  job_expiry interval default interval '4 hours',
  forbidden_flags text[] default null,
  now timestamptz default now()
) returns @schema@._private_jobs
language sql volatile
as $$
  select * from @schema@.get_jobs(get_job.worker_id, get_job.task_identifiers,
    get_job.job_expiry, get_job.forbidden_flags, get_job.now, 1);
$$;
