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
    where j.id = any(complete_held_jobs.job_ids)
      and j.locked_at is not null
      and j.locked_by = complete_held_jobs.worker_id
    returning j.id, j.queue_name
  ), freed_queues as (
    update @schema@._private_job_queues as q
    set locked_at = null, locked_by = null
    where q.queue_name in (select d.queue_name from done as d where d.queue_name is not null)
      and q.locked_by = complete_held_jobs.worker_id
  )
  select d.id from done as d;
$$;

-- Graphile Worker's complete_job; refuses a job the worker does not hold.
create or replace function @schema@.complete_job(
  worker_id text,
  job_id bigint
) returns void
language plpgsql volatile
as $$
begin
  perform from @schema@.complete_held_jobs(complete_job.worker_id, array[complete_job.job_id]);
  if not found then
    raise exception 'job % is not held by worker %', complete_job.job_id, quote_nullable(complete_job.worker_id)
      using errcode = '55000';
  end if;
end;
$$;
