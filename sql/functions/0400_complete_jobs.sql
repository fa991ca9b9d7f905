-- Admin (Graphile Worker's complete_jobs): jobs that are not running are
-- completed; retention decides whether they stay (by default they leave).
-- Returns them as they were.
create or replace function @schema@.complete_jobs(
  job_ids bigint[]
) returns setof @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_jobs @schema@._private_jobs[];
begin
  perform @schema@._release_expired_jobs(complete_jobs.job_ids);
  select array_agg(j order by j.id) into v_jobs
  from (select * from @schema@._private_jobs as j
        where j.id = any(complete_jobs.job_ids) and j.state not in ('running', 'completed', 'cancelled')
        order by j.id for update) as j;
  perform @schema@._finish_waiting_jobs(array(select (j).id from unnest(v_jobs) as j), 'completed', null);
  perform @schema@._audit('complete_jobs', complete_jobs.job_ids::text[],
    jsonb_build_object('completed', coalesce(array(select (j).id from unnest(v_jobs) as j), '{}')));
  return query select * from unnest(v_jobs);
end;
$$;

-- Jobs that are not running (already locked by the caller) reach a final
-- state by an admin's hand: kept as retention says, announced to waiters.
create or replace function @schema@._finish_waiting_jobs(
  job_ids bigint[],
  state text,
  error_message text
) returns void
language plpgsql volatile
as $$
declare
  v_waited bigint[];
  v_letters integer;
  -- blocked jobs depend on them, or workflows (0180_follow_ends.sql): one page while nobody uses either
  v_followers boolean := exists (select from @schema@._private_jobs as j
                                 where j.id = any(_finish_waiting_jobs.job_ids) and j.has_followers);
begin
  with ended as (
    select j.id, j.task_identifier, j.queue_name,
           @schema@._keep_until(j.task_identifier, j.queue_name, _finish_waiting_jobs.state, now()) as keep_until,
           exists (select from @schema@._private_job_waiters as w where w.job_id = j.id) as waited
    from @schema@._private_jobs as j where j.id = any(_finish_waiting_jobs.job_ids)
  ), planned as (
    -- whoever waits reads the outcome: kept a while for them ('infinity': until removed)
    select e.*, case when e.waited then greatest(coalesce(e.keep_until, 'infinity'), now() + interval '10 minutes')
                     else e.keep_until end as keep
    from ended as e
  ), dead as (  -- a job failed by hand may leave a dead letter (0165_dead_letters.sql)
    select d.dead_job_id, d.dead_letter_job_id
    from @schema@._add_dead_letters(
      (select jsonb_agg(@schema@._dead_job(j, coalesce(_finish_waiting_jobs.error_message, j.last_error), j.errors)
                        order by j.id)
       from @schema@._private_jobs as j where j.id = any(_finish_waiting_jobs.job_ids)),
      now()) as d
    where _finish_waiting_jobs.state = 'failed' and exists (select from @schema@._private_dead_letters)
  ), removed as (
    delete from @schema@._private_jobs as j using planned as e
    where j.id = e.id and e.keep <= now()
  ), kept as (
    update @schema@._private_jobs as j
    set state = _finish_waiting_jobs.state,
        last_error = coalesce(_finish_waiting_jobs.error_message, j.last_error),
        attempts = case when _finish_waiting_jobs.state = 'failed' then j.max_attempts else j.attempts end,
        finished_at = now(),
        keep_until = nullif(e.keep, 'infinity'),
        dead_letter_job_id = coalesce((select d.dead_letter_job_id from dead as d where d.dead_job_id = j.id),
                                      j.dead_letter_job_id),
        updated_at = now()
    from planned as e
    where j.id = e.id and (e.keep is null or e.keep > now())
  )
  -- dead is read here too, so its letters are written even when no kept job names them
  select (select array_agg(e.id) from planned as e where e.waited), (select count(*)::integer from dead)
  into v_waited, v_letters;
  perform pg_notify('@schema_text@:finished', i::text) from unnest(v_waited) as i;
  if v_followers then
    perform @schema@._follow_ends(_finish_waiting_jobs.job_ids,
      array_fill(_finish_waiting_jobs.state, array[cardinality(_finish_waiting_jobs.job_ids)]));
  end if;
end;
$$;
