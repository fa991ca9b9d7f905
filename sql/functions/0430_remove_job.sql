-- Admin (Graphile Worker's remove_job): delete the live job holding job_key
-- unless it is running; a running one loses its key and will not be retried.
-- Returns the job, or null if no live job holds the key.
create or replace function @schema@.remove_job(
  job_key text
) returns @schema@._private_jobs
language plpgsql volatile strict
set search_path = pg_catalog, pg_temp
as $$
declare
  v_job @schema@._private_jobs;
begin
  perform @schema@._release_expired_jobs(array(
    select j.id from @schema@._private_jobs as j where j.key = remove_job.job_key and j.state = 'running'));
  delete from @schema@._private_jobs as j
  where j.key = remove_job.job_key and j.state not in ('running', 'completed', 'cancelled')
  returning * into v_job;
  if found then
    if v_job.has_followers then  -- jobs blocked on it would wait forever: a removal is a cancel for them
      perform @schema@._follow_ends(array[v_job.id], array['cancelled']);
    end if;
    perform @schema@._audit('remove_job', array[remove_job.job_key], jsonb_build_object('removed', v_job.id));
    return v_job;
  end if;
  update @schema@._private_jobs as j
  set key = null, attempts = greatest(j.attempts, j.max_attempts), updated_at = now()
  where j.key = remove_job.job_key and j.state = 'running'
  returning * into v_job;
  perform @schema@._audit('remove_job', array[remove_job.job_key],
                          jsonb_strip_nulls(jsonb_build_object('key_taken_from_running_job', v_job.id)));
  return v_job;
end;
$$;
