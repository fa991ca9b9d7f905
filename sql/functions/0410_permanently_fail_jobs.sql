-- Admin: stop retrying jobs that are not running; they stay for inspection.
create or replace function @schema@.permanently_fail_jobs(
  job_ids bigint[],
  error_message text default null
) returns setof @schema@._private_jobs
language sql volatile
as $$
  update @schema@._private_jobs as j
  set last_error = coalesce(permanently_fail_jobs.error_message, 'Manually marked as failed'),
      attempts = j.max_attempts,
      updated_at = now()
  where j.id = any(permanently_fail_jobs.job_ids)
    and (j.locked_at is null or j.locked_at < now() - interval '4 hours')
  returning j.*;
$$;
