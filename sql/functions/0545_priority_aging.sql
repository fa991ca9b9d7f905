-- Priority aging (issue 10), off by default. With a step set, a job that has
-- been available since its run_at for k whole steps runs at its own priority
-- minus k (at most max_steps, never below -32768): low-priority work moves up
-- until it goes before the jobs that keep arriving, which it then beats on
-- run_at. The claim does not age anything: maintain() does it in bounded
-- batches (_age_priorities), so the claim's plan and cost stay as they are,
-- and a job's stored priority is what the claim's indexes order by.
-- A job the pass aged keeps its own priority in base_priority (migration
-- 0011), and the aged value is recomputed from it and run_at: the same pass
-- twice changes nothing, a longer step gives priority back. A retry, a
-- snooze, a reschedule, a redrive or a replace (add_job with the same key)
-- gives the job its own priority again (_end_attempts, reschedule_jobs,
-- retry_jobs, _replaced_job); it ages again from its new run_at.

-- The priority of a job of priority `base` available since run_at, at `now`.
create or replace function @schema@._aged_priority(
  base smallint,
  run_at timestamptz,
  now timestamptz,
  step interval,
  max_steps integer
) returns smallint
language sql immutable
as $$
  select greatest(-32768, _aged_priority.base - least(
           coalesce(_aged_priority.max_steps, 65535),
           greatest(0, floor(extract(epoch from _aged_priority.now - _aged_priority.run_at)
                             / extract(epoch from _aged_priority.step)))::integer))::smallint;
$$;

-- Admin: turn priority aging on (a step, and optionally at most how many
-- steps a job may age) or off (step null). Off gives the available jobs it
-- aged their own priority back (rows another session holds are skipped:
-- they keep the aged value until they run or are retried).
create or replace function @schema@.set_priority_aging(
  step interval,
  max_steps integer default null
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_reset bigint[];
begin
  if set_priority_aging.step is null and set_priority_aging.max_steps is not null then
    raise exception 'max_steps needs a step: set_priority_aging(null) turns aging off'
      using errcode = '22023';
  end if;
  if set_priority_aging.step < interval '1 second' then
    raise exception 'step must be at least 1 second (got %)', set_priority_aging.step
      using errcode = '22023',
            hint = 'maintain() ages jobs every few seconds; a shorter step would age them in bursts anyway.';
  end if;
  if set_priority_aging.max_steps < 1 then
    raise exception 'max_steps must be at least 1 (got %); null: no limit', set_priority_aging.max_steps
      using errcode = '22023';
  end if;

  delete from @schema@._private_settings as s
  where s.name in ('priority_aging_step', 'priority_aging_max_steps');
  if set_priority_aging.step is not null then
    insert into @schema@._private_settings (name, value)
    select 'priority_aging_step', set_priority_aging.step::text
    union all
    select 'priority_aging_max_steps', set_priority_aging.max_steps::text
    where set_priority_aging.max_steps is not null;
  else
    select array_agg(j.id) into v_reset
    from (select j.id from @schema@._private_jobs as j
          where j.base_priority is not null and j.state = 'available'
          order by j.id for update skip locked) as j;
    update @schema@._private_jobs as j
    set priority = j.base_priority, base_priority = null
    where j.id = any(v_reset);
  end if;
  perform @schema@._audit('set_priority_aging', null, jsonb_build_object(
    'step', set_priority_aging.step, 'max_steps', set_priority_aging.max_steps,
    'reset', cardinality(v_reset)));
end;
$$;

-- The aging in force: one row, step null when it is off.
create or replace function @schema@.priority_aging()
returns table (step interval, max_steps integer)
language sql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select @schema@._setting('priority_aging_step')::interval,
         @schema@._setting('priority_aging_max_steps')::integer;
$$;

-- The pass maintain() runs: brings the priority of available jobs to their
-- aged value, at most max_rows jobs per batch, in id order (the oldest jobs
-- first), batches until the jobs run out or a second has passed. Never waits
-- for a row: a job a claim or an application holds is skipped until the next
-- pass. Queued jobs that moved up are offered to their queues' listings, as
-- an adder's are (_offer_queue_heads). Off (no step): returns 0 at once.
-- Returns how many jobs it changed.
create or replace function @schema@._age_priorities(
  now timestamptz,
  max_rows integer
) returns integer
language plpgsql volatile
as $$
declare
  v_step interval := @schema@._setting('priority_aging_step')::interval;
  v_max_steps integer := @schema@._setting('priority_aging_max_steps')::integer;
  v_after bigint := 0;
  v_started timestamptz := clock_timestamp();
  v_n integer;
  v_total integer := 0;
  v_last bigint;
  v_queues text[];
begin
  if v_step is null then
    return 0;
  end if;
  loop
    with due as (
      select j.id, a.priority
      from @schema@._private_jobs as j
      cross join lateral (select @schema@._aged_priority(coalesce(j.base_priority, j.priority), j.run_at,
                                                         _age_priorities.now, v_step, v_max_steps) as priority) as a
      where j.id > v_after and j.state = 'available'
        and (j.run_at <= _age_priorities.now - v_step or j.base_priority is not null)
        and a.priority <> j.priority
      order by j.id
      limit _age_priorities.max_rows
      for update of j skip locked
    ), aged as (
      update @schema@._private_jobs as j
      set base_priority = case when d.priority = coalesce(j.base_priority, j.priority) then null
                               else coalesce(j.base_priority, j.priority) end,
          priority = d.priority
      from due as d
      where j.id = d.id
      returning j.id, j.queue_name
    )
    select count(*)::integer, max(a.id),
           array_agg(distinct a.queue_name order by a.queue_name) filter (where a.queue_name is not null)
    into v_n, v_last, v_queues
    from aged as a;
    if v_queues is not null then
      perform @schema@._offer_queue_heads(v_queues);
    end if;
    v_total := v_total + v_n;
    exit when v_n < _age_priorities.max_rows or clock_timestamp() - v_started > interval '1 second';
    v_after := v_last;
  end loop;
  return v_total;
end;
$$;
