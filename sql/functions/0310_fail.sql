-- A worker reports failed attempts of jobs it holds. Each job is unlocked,
-- keeps the error (last_error and the per-attempt history in errors) and is
-- retried at greatest(now(), run_at) + exp(least(attempts, 10)) seconds; a job
-- that used all its attempts stays in the table for inspection.
-- Returns the failed jobs as they now are; ids not held are skipped.
create or replace function @schema@.fail_held_jobs(
  worker_id text,
  job_ids bigint[],
  error_messages text[]
) returns setof @schema@._private_jobs
language sql volatile
as $$
  with reported as (
    select r.id, r.error_message
    from unnest(fail_held_jobs.job_ids, fail_held_jobs.error_messages) as r(id, error_message)
  ), failed as (
    update @schema@._private_jobs as j
    set last_error = r.error_message,
        errors = coalesce(j.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
          'at', now(), 'attempt', j.attempts, 'error', r.error_message)),
        run_at = greatest(now(), j.run_at) + exp(least(j.attempts, 10)) * interval '1 second',
        locked_at = null,
        locked_by = null,
        updated_at = now()
    from reported as r
    where j.id = r.id
      and j.id in (
        -- id order, so sessions touching the same jobs cannot deadlock
        select h.id from @schema@._private_jobs as h
        where h.id = any(fail_held_jobs.job_ids)
          and h.locked_at is not null
          and h.locked_by = fail_held_jobs.worker_id
        order by h.id
        for update)
    returning j.*
  ), freed_queues as (
    update @schema@._private_job_queues as q
    set locked_at = null, locked_by = null
    where q.queue_name in (select f.queue_name from failed as f where f.queue_name is not null)
      and q.locked_by = fail_held_jobs.worker_id
    -- the queue's next job may be for a worker with other tasks: wake them all
    returning @schema@._notify_jobs(null)
  )
  select * from failed;
$$;

-- Graphile Worker's fail_job; refuses a job the worker does not hold.
create or replace function @schema@.fail_job(
  worker_id text,
  job_id bigint,
  error_message text
) returns @schema@._private_jobs
language plpgsql volatile
as $$
declare
  v_job @schema@._private_jobs;
begin
  select * into v_job from @schema@.fail_held_jobs(fail_job.worker_id,
    array[fail_job.job_id], array[fail_job.error_message]);
  if not found then
    raise exception 'job % is not held by worker %', fail_job.job_id, quote_nullable(fail_job.worker_id)
      using errcode = '55000';
  end if;
  return v_job;
end;
$$;
