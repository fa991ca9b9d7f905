-- Listings for `pgrun queues`, `pgrun workers` and dashboards. Read-only and
-- security definer, as job_counts: a read role may call them.

-- Every named queue: its settings, how many of its jobs run now (the exact
-- counter the claim keeps), and from job_counts (maintain()'s last count) how
-- many wait in each state and since when the oldest available one does.
create or replace function @schema@.list_queues()
returns table (queue_name text, max_running integer, running integer, paused boolean,
               available bigint, scheduled bigint, retryable bigint, failed bigint,
               waiting_since timestamptz, counted_at timestamptz)
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  return query
  with counts as (
    select c.queue_name,
           coalesce(sum(c.jobs) filter (where c.state = 'available'), 0)::bigint as available,
           coalesce(sum(c.jobs) filter (where c.state = 'scheduled'), 0)::bigint as scheduled,
           coalesce(sum(c.jobs) filter (where c.state = 'retryable'), 0)::bigint as retryable,
           coalesce(sum(c.jobs) filter (where c.state = 'failed'), 0)::bigint as failed,
           min(c.waiting_since) as waiting_since, max(c.counted_at) as counted_at
    from @schema@.job_counts() as c
    where c.queue_name is not null
    group by c.queue_name
  )
  select q.queue_name, q.max_running, q.running, q.paused, coalesce(c.available, 0), coalesce(c.scheduled, 0),
         coalesce(c.retryable, 0), coalesce(c.failed, 0), c.waiting_since, c.counted_at
  from @schema@._private_job_queues as q
  left join counts as c on c.queue_name = q.queue_name
  where not q.limit_only  -- keys of limit_keys only: list_limits
  order by q.queue_name;
end;
$$;

-- Every registered worker: its lease (last beat, interval, timeout, whether
-- it is live now), whether it was reaped and by whom, whether its last claim
-- came back short (idle_since), what it said of itself (info), and the jobs it
-- holds now (jobs_running: a few rows per worker).
create or replace function @schema@.list_workers(
  now timestamptz default now()
)
returns table (worker_id text, started_at timestamptz, last_heartbeat_at timestamptz,
               heartbeat_interval interval, lease_timeout interval, live boolean,
               reaped_at timestamptz, reaped_by text, idle_since timestamptz, info jsonb,
               running_job_ids bigint[])
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  if list_workers.now is null then
    raise exception 'now must not be null' using errcode = '22004';
  end if;
  return query
  select w.worker_id, w.started_at, w.last_heartbeat_at, w.heartbeat_interval, w.lease_timeout,
         w.reaped_at is null and w.last_heartbeat_at > list_workers.now - w.lease_timeout,
         w.reaped_at, w.reaped_by, w.idle_since, w.info,
         array(select j.id from @schema@._private_jobs as j
               where j.state = 'running' and j.locked_by = w.worker_id order by j.id)
  from @schema@._private_workers as w
  order by w.started_at, w.worker_id;
end;
$$;
