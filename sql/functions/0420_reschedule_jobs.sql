-- Admin (Graphile Worker's reschedule_jobs): change run_at, priority, attempts
-- or max_attempts of jobs that are not running; an argument left null keeps
-- the job's value. A job's state follows: failed while its attempts are used
-- up, else scheduled, retryable or available by its run_at. Completed and
-- cancelled jobs are left as they are (retry_jobs runs them again).
create or replace function @schema@.reschedule_jobs(
  job_ids bigint[],
  run_at timestamptz default null,
  priority integer default null,
  attempts integer default null,
  max_attempts integer default null
) returns setof @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
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

  perform @schema@._release_expired_jobs(reschedule_jobs.job_ids);
  with target as (
    select j.id, case
          when j.state = 'blocked' then 'blocked'
          when coalesce(reschedule_jobs.attempts, j.attempts) >= coalesce(reschedule_jobs.max_attempts, j.max_attempts)
            then 'failed'
          when coalesce(reschedule_jobs.run_at, j.run_at) <= now() then 'available'
          when coalesce(reschedule_jobs.attempts, j.attempts) > 0 then 'retryable'
          else 'scheduled' end as state
    from @schema@._private_jobs as j
    where j.id = any(reschedule_jobs.job_ids) and j.state not in ('running', 'completed', 'cancelled')
    order by j.id for update
  ), updated as (
    update @schema@._private_jobs as j
    set run_at = coalesce(reschedule_jobs.run_at, j.run_at),
        -- its own priority again (an aged one: its base_priority), aged anew from its run_at
        priority = coalesce(reschedule_jobs.priority, j.base_priority, j.priority),
        base_priority = null,
        attempts = coalesce(reschedule_jobs.attempts, j.attempts),
        max_attempts = coalesce(reschedule_jobs.max_attempts, j.max_attempts),
        state = t.state,
        -- in the same statement: the jobs_finished_when_final check holds on every row written
        finished_at = case when t.state <> 'failed' then null
                           when j.state = 'failed' then j.finished_at else now() end,
        keep_until = case when t.state <> 'failed' then null
                          when j.state = 'failed' then j.keep_until
                          else @schema@._keep_until(j.task_identifier, j.queue_name, 'failed', now()) end,
        updated_at = now()
    from target as t where j.id = t.id
    returning j.*
  )
  select array_agg(u order by u.id) into v_rows from updated as u;
  -- a job failed here (attempts used up) cancels the jobs blocked on it, as any failure does
  if exists (select from unnest(v_rows) as r where (r).has_followers and (r).state = 'failed') then
    perform @schema@._follow_ends(array(select (r).id from unnest(v_rows) as r where (r).state = 'failed'),
                                  array(select (r).state from unnest(v_rows) as r where (r).state = 'failed'));
  end if;

  perform @schema@._offer_queue_heads(array(
    select distinct (r).queue_name from unnest(v_rows) as r
    where (r).state = 'available' and (r).queue_name is not null order by 1));
  if v_rows is not null then
    perform @schema@._notify_jobs();
  end if;
  perform @schema@._audit('reschedule_jobs', reschedule_jobs.job_ids::text[], jsonb_strip_nulls(jsonb_build_object(
    'run_at', reschedule_jobs.run_at, 'priority', reschedule_jobs.priority,
    'attempts', reschedule_jobs.attempts, 'max_attempts', reschedule_jobs.max_attempts,
    'rescheduled', coalesce(array(select (r).id from unnest(v_rows) as r order by 1), '{}'))));
  return query select * from @schema@._private_jobs as j
               where j.id in (select (r).id from unnest(v_rows) as r) order by j.id;
end;
$$;
