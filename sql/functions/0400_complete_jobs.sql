-- Admin: delete jobs by id, except those a worker is running (a lock younger
-- than 4 hours). Returns the deleted jobs.
create or replace function @schema@.complete_jobs(
  job_ids bigint[]
) returns setof @schema@._private_jobs
language sql volatile
as $$
  delete from @schema@._private_jobs as j
  where j.id = any(complete_jobs.job_ids)
    and (j.locked_at is null or j.locked_at < now() - interval '4 hours')
  returning j.*;
$$;
