-- A worker finishes jobs it holds: they leave the table and their queues are
-- freed. Ids the worker does not hold (anymore) are left alone and not returned.
create or replace function @schema@.complete_held_jobs(
  worker_id text,
  job_ids bigint[]
) returns setof bigint
language sql volatile
as $$
  with done as (
    delete from @schema@._private_jobs as j
    where j.id in (
      -- id order, so sessions touching the same jobs cannot deadlock
      select h.id from @schema@._private_jobs as h
      where h.id = any(complete_held_jobs.job_ids)
        and h.locked_at is not null
        and h.locked_by = complete_held_jobs.worker_id
      order by h.id
      for update)
    returning j.id, j.queue_name
  ), freed_queues as (
    update @schema@._private_job_queues as q
    set locked_at = null, locked_by = null
    where q.queue_name in (select d.queue_name from done as d where d.queue_name is not null)
      and q.locked_by = complete_held_jobs.worker_id
    -- the queue's next job may be for a worker with other tasks: wake them all
    returning @schema@._notify_jobs(null)
  )
  select d.id from done as d;
$$;

-- Graphile Worker's complete_job: returns the deleted job; refuses a job the
-- worker does not hold.
create or replace function @schema@.complete_job(
  worker_id text,
  job_id bigint
) returns @schema@._private_jobs
language plpgsql volatile
as $$
declare
  v_job @schema@._private_jobs;
begin
  delete from @schema@._private_jobs as j
  where j.id = complete_job.job_id
    and j.locked_at is not null
    and j.locked_by = complete_job.worker_id
  returning * into v_job;
  if not found then
    raise exception 'job % is not held by worker %', complete_job.job_id, quote_nullable(complete_job.worker_id)
      using errcode = '55000';
  end if;
  if v_job.queue_name is not null then
    update @schema@._private_job_queues as q
    set locked_at = null, locked_by = null
    where q.queue_name = v_job.queue_name and q.locked_by = complete_job.worker_id;
    perform @schema@._notify_jobs(null);  -- the queue's next job may be for another worker
  end if;
  return v_job;
end;
$$;
