-- Workers and their leases. A worker's row is its lease on every job it runs:
-- each heartbeat renews them all at once, and nothing else of the worker's
-- is written while it beats (a beat never waits for a job's row lock).

-- A worker starts: its id, what it runs (info), how often it beats and after
-- how long without a beat it may be presumed dead. Registering again under a
-- live id only updates info; an id that was reaped is refused.
create or replace function @schema@.register_worker(
  worker_id text,
  info jsonb default null,
  heartbeat_interval interval default interval '5 seconds',
  lease_timeout interval default interval '20 seconds',
  now timestamptz default now()
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_worker @schema@._private_workers;
begin
  if register_worker.worker_id is null or length(register_worker.worker_id) not between 10 and 128 then
    raise exception 'worker_id must be 10 to 128 characters (got %)', quote_nullable(register_worker.worker_id)
      using errcode = '22023';
  end if;
  if register_worker.heartbeat_interval is null or register_worker.heartbeat_interval <= interval '0' then
    raise exception 'heartbeat_interval must be positive (got %)', quote_nullable(register_worker.heartbeat_interval)
      using errcode = '22023';
  end if;
  if register_worker.lease_timeout is null
     or register_worker.lease_timeout < 2 * register_worker.heartbeat_interval then
    raise exception 'lease_timeout must be at least twice heartbeat_interval (got % and %)',
      quote_nullable(register_worker.lease_timeout), register_worker.heartbeat_interval
      using errcode = '22023';
  end if;
  select * into v_worker from @schema@._private_workers as w where w.worker_id = register_worker.worker_id
  for update;
  if found and v_worker.reaped_at is not null then
    raise exception 'worker % was presumed dead by % at % and its jobs were released; register again under a new id',
      register_worker.worker_id, coalesce(v_worker.reaped_by, 'an admin'), v_worker.reaped_at
      using errcode = 'PGR01';
  end if;
  insert into @schema@._private_workers as w
    (worker_id, started_at, last_heartbeat_at, beating_since, heartbeat_interval, lease_timeout, info, protocol)
  values (register_worker.worker_id, register_worker.now, register_worker.now, register_worker.now,
          register_worker.heartbeat_interval, register_worker.lease_timeout,
          coalesce(register_worker.info, '{}'::jsonb), 2)
  on conflict on constraint _private_workers_pkey do update
  set info = coalesce(register_worker.info, w.info), heartbeat_interval = excluded.heartbeat_interval,
      lease_timeout = excluded.lease_timeout, last_heartbeat_at = excluded.last_heartbeat_at,
      protocol = 2;
end;
$$;

-- One beat: renews this worker's lease (raising PGR01 if it was reaped, PGR02
-- if it is not registered, PGR03 if it was registered by a schema-1 runner),
-- then reaps the workers whose leases ran out, when this worker may (see
-- reap_workers). One round trip; returns each worker it reaped and how many
-- of its jobs it released. heartbeat_timeout is kept for schema 1's callers:
-- each worker's own lease_timeout decides.
create or replace function @schema@.heartbeat(
  worker_id text,
  info jsonb default null,
  heartbeat_timeout interval default interval '20 seconds',
  now timestamptz default now()
) returns table (dead_worker_id text, released_jobs integer)
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_worker @schema@._private_workers;
begin
  -- the run of beats is broken by a gap of more than 1.5 intervals: after an
  -- outage this worker has to beat for a full timeout before it may reap
  update @schema@._private_workers as w
  set last_heartbeat_at = heartbeat.now,
      beating_since = case when heartbeat.now - w.last_heartbeat_at > 1.5 * w.heartbeat_interval
                           then heartbeat.now else w.beating_since end,
      info = coalesce(heartbeat.info, w.info)
  where w.worker_id = heartbeat.worker_id and w.reaped_at is null and w.protocol = 2
  returning w.* into v_worker;
  if not found then
    -- say why, in the words the claim uses
    perform @schema@._check_lease(heartbeat.worker_id, heartbeat.now, false);
    raise exception 'worker % has no lease to renew', heartbeat.worker_id using errcode = 'PGR02';
  end if;
  return query select r.worker_id, r.released_jobs
               from @schema@.reap_workers(heartbeat.worker_id, heartbeat.now) as r;
end;
$$;

-- Reaps workers whose leases ran out and releases their jobs (the attempt
-- counts; the job is available again at once, or failed if that was its last
-- attempt). Safe after an outage: a reaper acts only while its own lease is
-- live and its own beats have run unbroken for at least the victim's lease
-- timeout, so a worker that was merely cut off with everyone else is given a
-- full timeout to come back. A reaped worker's row stays, marked, so that it
-- learns what happened at its next beat or claim. Rows other transactions
-- lock are skipped and released by a later call. Returns each worker whose
-- jobs it released (or that it reaped) and how many jobs.
create or replace function @schema@.reap_workers(
  reaper_id text,
  now timestamptz default now()
) returns table (worker_id text, released_jobs integer)
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_reaper @schema@._private_workers;
  v_reaped text[];
  v_ids bigint[];
  v_queues text[];
  v_holders text[];
  v_messages jsonb;
begin
  select * into v_reaper from @schema@._private_workers as w where w.worker_id = reap_workers.reaper_id;
  if not found or v_reaper.reaped_at is not null or v_reaper.protocol <> 2
     or v_reaper.last_heartbeat_at < reap_workers.now - v_reaper.lease_timeout then
    return;
  end if;

  with reaped as (
    update @schema@._private_workers as w
    set reaped_at = reap_workers.now, reaped_by = reap_workers.reaper_id, idle_since = null
    where w.worker_id in (
      select d.worker_id from @schema@._private_workers as d
      where d.reaped_at is null and d.worker_id <> reap_workers.reaper_id
        and d.last_heartbeat_at < reap_workers.now - d.lease_timeout
        and v_reaper.beating_since <= reap_workers.now - d.lease_timeout
      order by d.worker_id
      for update skip locked)
    returning w.worker_id
  )
  select array_agg(r.worker_id) into v_reaped from reaped as r;

  -- Release what any reaped worker still holds (this call's, or earlier
  -- calls' leftovers that were locked then).
  select array_agg(j.id order by j.id), array_agg(j.queue_name order by j.id) into v_ids, v_queues
  from (select j.id, j.queue_name from @schema@._private_jobs as j
        join @schema@._private_workers as w on w.worker_id = j.locked_by
        where j.state = 'running' and w.reaped_at is not null
        order by j.id
        limit 1000
        for update of j skip locked) as j;
  if v_ids is not null then
    v_ids := @schema@._lock_queues_of(v_ids, v_queues);
  end if;

  if v_ids is null or cardinality(v_ids) = 0 then
    return query select r, 0 from unnest(v_reaped) as r;
    return;
  end if;
  select array_agg(j.locked_by order by j.id),
         jsonb_object_agg(j.id::text, format('worker %s stopped sending heartbeats (last at %s); job released',
                                             j.locked_by, w.last_heartbeat_at))
  into v_holders, v_messages
  from @schema@._private_jobs as j join @schema@._private_workers as w on w.worker_id = j.locked_by
  where j.id = any(v_ids);
  v_ids := array(select i from unnest(v_ids) as i order by i);
  perform @schema@._end_attempts(v_ids, 'released', v_messages, null, reap_workers.now);

  return query
  select h, count(*)::integer from unnest(v_holders) as h group by h
  union all
  select r, 0 from unnest(v_reaped) as r where not r = any(v_holders);
end;
$$;

-- schema 1's name for reaping, kept for scripts: the calling session reaps as
-- a worker with no lease of its own cannot, so this reaps on behalf of the
-- longest-beating live worker (nothing happens while none is live).
create or replace function @schema@.release_dead_workers(
  heartbeat_timeout interval default interval '20 seconds',
  now timestamptz default now()
) returns table (worker_id text, released_jobs integer)
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
  select r.worker_id, r.released_jobs
  from (select w.worker_id from @schema@._private_workers as w
        where w.reaped_at is null and w.protocol = 2
          and w.last_heartbeat_at >= release_dead_workers.now - w.lease_timeout
        order by w.beating_since limit 1) as reaper,
       lateral @schema@.reap_workers(reaper.worker_id, release_dead_workers.now) as r;
$$;

-- A worker leaving cleanly: whatever it still holds is released (the attempt
-- counts) and its row goes. It never waits for a row another transaction
-- holds: if it cannot release everything now, its row stays marked as reaped
-- (by itself), and any live worker's next beat releases the rest.
create or replace function @schema@.unregister_worker(
  worker_id text
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_locked bigint[];
  v_ids bigint[];
  v_queues text[];
begin
  update @schema@._private_workers as w
  set reaped_at = coalesce(w.reaped_at, now()), reaped_by = coalesce(w.reaped_by, w.worker_id), idle_since = null
  where w.worker_id = unregister_worker.worker_id;
  select array_agg(j.id order by j.id), array_agg(j.queue_name order by j.id) into v_locked, v_queues
  from (select j.id, j.queue_name from @schema@._private_jobs as j
        where j.state = 'running' and j.locked_by = unregister_worker.worker_id
        order by j.id for update of j skip locked) as j;
  if v_locked is not null then
    v_ids := @schema@._lock_queues_of(v_locked, v_queues);
    perform @schema@._end_attempts(v_ids, 'released',
      @schema@._same_message(v_ids, format('worker %s stopped while holding the job', unregister_worker.worker_id)));
  end if;
  delete from @schema@._private_workers as w
  where w.worker_id = unregister_worker.worker_id
    and not exists (select from @schema@._private_jobs as j
                    where j.state = 'running' and j.locked_by = unregister_worker.worker_id);
end;
$$;

-- schema 1's beat without reaping, kept for scripts: renews the lease.
create or replace function @schema@.record_heartbeat(
  worker_id text,
  info jsonb default null,
  now timestamptz default now()
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if record_heartbeat.worker_id is null or length(record_heartbeat.worker_id) < 10 then
    raise exception 'worker_id must be at least 10 characters (got %)', quote_nullable(record_heartbeat.worker_id)
      using errcode = '22023';
  end if;
  if not exists (select from @schema@._private_workers as w where w.worker_id = record_heartbeat.worker_id) then
    perform @schema@.register_worker(record_heartbeat.worker_id, record_heartbeat.info,
                                     now => record_heartbeat.now);
    return;
  end if;
  update @schema@._private_workers as w
  set last_heartbeat_at = record_heartbeat.now,
      beating_since = case when record_heartbeat.now - w.last_heartbeat_at > 1.5 * w.heartbeat_interval
                           then record_heartbeat.now else w.beating_since end,
      info = coalesce(record_heartbeat.info, w.info)
  where w.worker_id = record_heartbeat.worker_id and w.reaped_at is null and w.protocol = 2;
  if not found then
    perform @schema@._check_lease(record_heartbeat.worker_id, record_heartbeat.now, false);
  end if;
end;
$$;
