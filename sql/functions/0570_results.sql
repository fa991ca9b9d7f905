-- What became of a job: its state, what its handler returned (completed jobs
-- that retention keeps), its last error, when it finished. No row: the job is
-- unknown (never added, or removed by retention).
create or replace function @schema@.get_result(
  job_id bigint
) returns table (state text, result jsonb, last_error text, finished_at timestamptz)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  -- through the view: a role granted `read` has the view, not the table
  select j.state, j.result, j.last_error, j.finished_at
  from @schema@.jobs as j where j.id = get_result.job_id;
$$;

-- Someone waits for these jobs to finish (WorkerUtils.wait_for): when one
-- completes or fails for good, "<schema>:finished" is notified with its id and
-- the job is kept at least 10 minutes so its result can be read. Call
-- unwatch_jobs when done (maintain forgets waiters after a day).
create or replace function @schema@.watch_jobs(
  job_ids bigint[]
) returns void
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
  insert into @schema@._private_job_waiters (job_id) select i from unnest(watch_jobs.job_ids) as i;
$$;

create or replace function @schema@.unwatch_jobs(
  job_ids bigint[]
) returns void
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
  delete from @schema@._private_job_waiters as w
  where w.ctid in (select x.ctid from @schema@._private_job_waiters as x
                   where x.job_id = any(unwatch_jobs.job_ids));
$$;
