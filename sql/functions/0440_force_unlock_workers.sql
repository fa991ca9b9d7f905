-- Admin: release every job and queue held by these workers (they are known to
-- be gone). Attempts already counted stay counted.
create or replace function @schema@.force_unlock_workers(
  worker_ids text[]
) returns void
language sql volatile
as $$
  update @schema@._private_jobs as j
  set locked_at = null, locked_by = null
  where j.id in (
    -- id order, so sessions touching the same jobs cannot deadlock
    select h.id from @schema@._private_jobs as h
    where h.locked_at is not null and h.locked_by = any(force_unlock_workers.worker_ids)
    order by h.id
    for update);

  update @schema@._private_job_queues as q
  set locked_at = null, locked_by = null
  where q.locked_by = any(force_unlock_workers.worker_ids);

  select @schema@._notify_jobs(null);
$$;
