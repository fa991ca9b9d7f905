-- Admin (Graphile Worker's permanently_fail_jobs): jobs that are not running
-- stop retrying: state failed, attempts = max_attempts, last_error set
-- (default 'Manually marked as failed'). Returns them as they now are.
create or replace function @schema@.permanently_fail_jobs(
  job_ids bigint[],
  error_message text default null
) returns setof @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[];
begin
  perform @schema@._release_expired_jobs(permanently_fail_jobs.job_ids);
  select array_agg(j.id order by j.id) into v_ids
  from (select j.id from @schema@._private_jobs as j
        where j.id = any(permanently_fail_jobs.job_ids) and j.state not in ('running', 'completed', 'cancelled')
        order by j.id for update) as j;
  perform @schema@._finish_waiting_jobs(v_ids, 'failed',
    coalesce(permanently_fail_jobs.error_message, 'Manually marked as failed'));
  perform @schema@._audit('permanently_fail_jobs', permanently_fail_jobs.job_ids::text[],
    jsonb_strip_nulls(jsonb_build_object('error_message', permanently_fail_jobs.error_message,
                                         'failed', coalesce(v_ids, '{}'))));
  return query select * from @schema@._private_jobs as j where j.id = any(v_ids) order by j.id;
end;
$$;
