-- Queue statistics for dashboards, metrics and `pgrun stats`. Read-only and
-- security definer, like explain_job, so that a read role (which sees only the
-- jobs view) can call them; a worker role can too (its metrics).
--
-- Counts by task, queue and state come from the last count maintain() took
-- (_refresh_job_counts): counting a million jobs is a scan of the table, so it
-- is taken at most every job_counts_max_age (5 s) and never more often than
-- 50 times the time the last count took (a count of 0.2 s: every 10 s, 2 % of
-- one core at most). job_counts() itself reads one row. Outcomes per minute
-- are summed from small rollups that every end of attempts writes
-- (_count_outcomes), never from the jobs.

-- Jobs now, by task, queue and state, and for available jobs the run_at of
-- the one waiting longest. One scan; the one place that counts.
create or replace function @schema@._count_jobs() returns jsonb
language sql stable
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'task', c.task_identifier, 'queue', c.queue_name, 'state', c.state, 'jobs', c.jobs,
           'waiting_since', c.waiting_since)
         order by c.task_identifier, c.queue_name, c.state), '[]'::jsonb)
  from (select j.task_identifier, j.queue_name, j.state, count(*) as jobs,
               min(j.run_at) filter (where j.state = 'available') as waiting_since
        from @schema@._private_jobs as j
        group by j.task_identifier, j.queue_name, j.state) as c;
$$;

-- Takes a new count when the last one is old enough (or `force`): older than
-- the job_counts_max_age setting and than 50 times what it took. Returns
-- whether it counted. Run by maintain(), once across instances, as its last
-- part. A count cut short by the caller's statement_timeout (a table far
-- bigger than the timeout allows to scan) is caught: the last count and its
-- counted_at stay, the try's time is kept (tried_at, took), so the next try
-- waits 50 times as long, and maintain() still commits what it did.
create or replace function @schema@._refresh_job_counts(
  now timestamptz default now(),
  force boolean default false
) returns boolean
language plpgsql volatile
as $$
declare
  v_last @schema@._private_job_counts;
  v_started timestamptz;
  v_counts jsonb;
begin
  select * into v_last from @schema@._private_job_counts as c;
  if found and not _refresh_job_counts.force
     and v_last.tried_at > _refresh_job_counts.now
       - greatest(@schema@._setting('job_counts_max_age', '5 seconds')::interval, 50 * v_last.took) then
    return false;
  end if;
  v_started := clock_timestamp();
  begin
    v_counts := @schema@._count_jobs();
  exception when query_canceled then
    insert into @schema@._private_job_counts as c (id, counted_at, tried_at, took, counts)
    values (true, _refresh_job_counts.now, _refresh_job_counts.now, clock_timestamp() - v_started, null)
    on conflict on constraint _private_job_counts_pkey do update
    set tried_at = excluded.tried_at, took = excluded.took;  -- the counts and their time stay
    return false;
  end;
  insert into @schema@._private_job_counts as c (id, counted_at, tried_at, took, counts)
  values (true, _refresh_job_counts.now, _refresh_job_counts.now, clock_timestamp() - v_started, v_counts)
  on conflict on constraint _private_job_counts_pkey do update
  set counted_at = excluded.counted_at, tried_at = excluded.tried_at, took = excluded.took,
      counts = excluded.counts;
  return true;
end;
$$;

-- Jobs by task, queue (null: none) and state, with waiting_since (for
-- available jobs: the run_at of the one waiting longest; else null) and when
-- they were counted. From maintain()'s last count (seconds old) unless
-- `recount` or maintain() never counted: then counted now (a scan of the
-- table). No rows if maintain's only try so far was cut short by a timeout.
create or replace function @schema@.job_counts(
  recount boolean default false
) returns table (task_identifier text, queue_name text, state text, jobs bigint,
                 waiting_since timestamptz, counted_at timestamptz)
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_counts jsonb;
  v_at timestamptz;
begin
  if job_counts.recount is null then
    raise exception 'recount must not be null' using errcode = '22004';
  end if;
  if not job_counts.recount then
    select c.counts, c.counted_at into v_counts, v_at from @schema@._private_job_counts as c;
    if found and v_counts is null then
      return;  -- maintain's first count was cut short: none yet (recount => true scans now)
    end if;
  end if;
  if v_counts is null then
    v_counts := @schema@._count_jobs();
    v_at := now();
  end if;
  return query
  select e ->> 'task', e ->> 'queue', e ->> 'state', (e ->> 'jobs')::bigint,
         (e ->> 'waiting_since')::timestamptz, v_at
  from jsonb_array_elements(v_counts) as e;
end;
$$;

-- Outcomes per minute over the last `minutes` minutes (the current one
-- included, oldest first), per task: completed, retried (the attempt failed,
-- it will run again), failed (for good), cancelled. Every minute of the window
-- has a row for each task seen in it, zeros included, so charts need no gap
-- filling. Summed over workers from the rollups (one row per worker, minute and task).
create or replace function @schema@.job_throughput(
  minutes integer default 15,
  now timestamptz default now()
) returns table (minute timestamptz, task_identifier text, completed bigint, retried bigint,
                 failed bigint, cancelled bigint)
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_last timestamptz := date_trunc('minute', job_throughput.now);
  v_first timestamptz;
begin
  if job_throughput.minutes is null or job_throughput.minutes not between 1 and 1440 then
    raise exception 'minutes must be 1 to 1440 (got %)', coalesce(job_throughput.minutes::text, 'NULL')
      using errcode = '22023';
  end if;
  if job_throughput.now is null then
    raise exception 'now must not be null' using errcode = '22004';
  end if;
  v_first := v_last - (job_throughput.minutes - 1) * interval '1 minute';
  return query
  with sums as (
    select m.minute, m.task_identifier, sum(m.completed)::bigint as completed, sum(m.retried)::bigint as retried,
           sum(m.failed)::bigint as failed, sum(m.cancelled)::bigint as cancelled
    from @schema@._private_outcome_minutes as m
    where m.minute between v_first and v_last
    group by m.minute, m.task_identifier
  )
  select g.minute, t.task_identifier, coalesce(s.completed, 0), coalesce(s.retried, 0),
         coalesce(s.failed, 0), coalesce(s.cancelled, 0)
  from generate_series(v_first, v_last, interval '1 minute') as g(minute)
  cross join (select distinct s.task_identifier from sums as s) as t
  left join sums as s on s.minute = g.minute and s.task_identifier = t.task_identifier
  order by g.minute, t.task_identifier;
end;
$$;

-- Rollup minutes older than the outcome_minutes_retention setting (default
-- 2 hours). Run by maintain(), every few seconds: each call finds the few
-- rows of the minutes that passed since (workers x tasks), through the
-- primary key, whose first column is the minute. Returns how many.
create or replace function @schema@._prune_outcome_minutes(
  now timestamptz
) returns integer
language plpgsql volatile
as $$
declare
  v_n integer;
begin
  delete from @schema@._private_outcome_minutes as m
  where m.minute < _prune_outcome_minutes.now
                   - @schema@._setting('outcome_minutes_retention', '2 hours')::interval;
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;
