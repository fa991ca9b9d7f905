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
-- In numeric until the end: a wait of centuries in steps of a second, or a
-- run_at of -infinity, ages to -32768 instead of overflowing an integer.
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
           greatest(0, floor((extract(epoch from _aged_priority.now) - extract(epoch from _aged_priority.run_at))
                             / extract(epoch from _aged_priority.step)))))::smallint;
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
  where s.name in ('priority_aging_step', 'priority_aging_max_steps', 'priority_aging_after');
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
-- aged value in batches, in id order: each batch reads the jobs of a window
-- of 10 * max_rows ids and ages at most max_rows of them (a statement's work
-- stays bounded whatever the table holds), batches until a second has
-- passed; the next pass goes on from where this one stopped (the setting
-- priority_aging_after), and after the last job starts again from the first,
-- so every waiting job is visited however many there are. Never
-- waits for a row: a job a claim or an application holds is skipped until the
-- next visit. Queued jobs that moved up are offered to their queues'
-- listings, as an adder's are (_offer_queue_heads). Off (no step): returns 0
-- at once. Returns how many jobs it changed.
create or replace function @schema@._age_priorities(
  now timestamptz,
  max_rows integer
) returns integer
language plpgsql volatile
as $$
declare
  v_step interval := @schema@._setting('priority_aging_step')::interval;
  v_max_steps integer;
  v_started timestamptz := clock_timestamp();
  v_after bigint;
  v_from bigint;
  v_next bigint;
  v_upto bigint;
  v_ids bigint[];
  v_priorities smallint[];
  v_n integer;
  v_total integer := 0;
  v_queues text[];
begin
  if v_step is null then
    return 0;
  end if;
  v_max_steps := @schema@._setting('priority_aging_max_steps')::integer;
  v_from := coalesce(@schema@._setting('priority_aging_after')::bigint, 0);
  v_after := v_from;
  loop
    -- the window starts at the next job (ids may have gaps, e.g. pruned ones)
    v_next := (select min(j.id) from @schema@._private_jobs as j where j.id > v_after);
    if v_next is null then
      v_after := 0;  -- the last job was seen: the next pass starts from the first
      exit;
    end if;
    v_upto := v_next - 1 + 10 * _age_priorities.max_rows;
    select array_agg(d.id order by d.id), array_agg(d.priority order by d.id) into v_ids, v_priorities
    from (select j.id, a.priority
          from @schema@._private_jobs as j
          cross join lateral (select @schema@._aged_priority(coalesce(j.base_priority, j.priority), j.run_at,
                                                             _age_priorities.now, v_step, v_max_steps) as priority) as a
          where j.id > v_after and j.id <= v_upto and j.state = 'available'
            and (j.run_at <= _age_priorities.now - v_step or j.base_priority is not null)
            and a.priority <> j.priority
          order by j.id
          limit _age_priorities.max_rows
          for update of j skip locked) as d;
    v_n := coalesce(cardinality(v_ids), 0);
    if v_n > 0 then
      -- by id through the primary key (a join with the batch would hash the whole table)
      with aged as (
        update @schema@._private_jobs as j
        set base_priority = nullif(coalesce(j.base_priority, j.priority), d.priority),  -- back at its own: null
            priority = d.priority
        from unnest(v_ids, v_priorities) as d(id, priority)
        where j.id = d.id
        returning j.queue_name
      )
      select array_agg(distinct a.queue_name order by a.queue_name) filter (where a.queue_name is not null)
      into v_queues
      from aged as a;
      if v_queues is not null then
        perform @schema@._offer_queue_heads(v_queues);
      end if;
    end if;
    v_total := v_total + v_n;
    -- a full batch may have left jobs of its window
    v_after := case when v_n = _age_priorities.max_rows then v_ids[v_n] else v_upto end;
    exit when clock_timestamp() - v_started > interval '1 second';
  end loop;
  if v_after <> v_from then
    insert into @schema@._private_settings (name, value) values ('priority_aging_after', v_after::text)
    on conflict (name) do update set value = excluded.value;
  end if;
  return v_total;
end;
$$;
