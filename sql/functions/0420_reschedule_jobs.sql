-- Admin: change run_at, priority, attempts or max_attempts of jobs that are
-- not running; an argument left null keeps the job's value.
create or replace function @schema@.reschedule_jobs(
  job_ids bigint[],
  run_at timestamptz default null,
  priority integer default null,
  attempts integer default null,
  max_attempts integer default null
) returns setof @schema@._private_jobs
language plpgsql volatile
as $$
declare
  v_rows @schema@._private_jobs[];
begin
  if reschedule_jobs.max_attempts is not null and reschedule_jobs.max_attempts not between 1 and 32767 then
    raise exception 'max_attempts must be between 1 and 32767 (got %)', reschedule_jobs.max_attempts
      using errcode = '22023';
  end if;
  if reschedule_jobs.attempts is not null and reschedule_jobs.attempts not between 0 and 32767 then
    raise exception 'attempts must be between 0 and 32767 (got %)', reschedule_jobs.attempts
      using errcode = '22023';
  end if;
  if reschedule_jobs.priority is not null and reschedule_jobs.priority not between -32768 and 32767 then
    raise exception 'priority must be between -32768 and 32767 (got %)', reschedule_jobs.priority
      using errcode = '22023';
  end if;

  with updated as (
    update @schema@._private_jobs as j
    set run_at = coalesce(reschedule_jobs.run_at, j.run_at),
        priority = coalesce(reschedule_jobs.priority, j.priority),
        attempts = coalesce(reschedule_jobs.attempts, j.attempts),
        max_attempts = coalesce(reschedule_jobs.max_attempts, j.max_attempts),
        updated_at = now()
    where j.id = any(reschedule_jobs.job_ids)
      and (j.locked_at is null or j.locked_at < now() - interval '4 hours')
    returning j.*
  )
  select array_agg(updated) into v_rows from updated;

  return query select * from unnest(v_rows) as r order by r.id;
  if v_rows is not null then
    perform @schema@._notify_jobs((select min(r.run_at) from unnest(v_rows) as r));
  end if;
end;
$$;
