-- Admin: delete the job holding job_key unless it is running. A running one
-- loses its key and will not be retried. Returns the job, or null if no job
-- holds the key.
create or replace function @schema@.remove_job(
  job_key text
) returns @schema@._private_jobs
language plpgsql volatile strict
as $$
declare
  v_job @schema@._private_jobs;
begin
  delete from @schema@._private_jobs as j
  where j.key = remove_job.job_key
    and (j.locked_at is null or j.locked_at < now() - interval '4 hours')
  returning * into v_job;
  if found then
    return v_job;
  end if;

  update @schema@._private_jobs as j
  set key = null, attempts = j.max_attempts, updated_at = now()
  where j.key = remove_job.job_key
  returning * into v_job;
  return v_job;
end;
$$;
