-- A worker hands back jobs it claimed but never started (its local buffer at
-- shutdown): they are unlocked with the attempt given back, as if never claimed.
create or replace function @schema@.return_held_jobs(
  worker_id text,
  job_ids bigint[]
) returns setof bigint
language plpgsql volatile
as $$
begin
  return query
  with returned as (
    update @schema@._private_jobs as j
    set attempts = greatest(j.attempts - 1, 0), locked_at = null, locked_by = null
    where j.id in (
      -- id order, so sessions touching the same jobs cannot deadlock
      select h.id from @schema@._private_jobs as h
      where h.id = any(return_held_jobs.job_ids)
        and h.locked_at is not null
        and h.locked_by = return_held_jobs.worker_id
      order by h.id
      for update)
    returning j.id, j.queue_name
  ), freed_queues as (
    update @schema@._private_job_queues as q
    set locked_at = null, locked_by = null
    where q.queue_name in (select r.queue_name from returned as r where r.queue_name is not null)
      and q.locked_by = return_held_jobs.worker_id
  )
  select r.id from returned as r;
  if found then
    perform @schema@._notify_jobs(null);
  end if;
end;
$$;
