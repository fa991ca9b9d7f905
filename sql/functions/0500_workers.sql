-- Worker liveness. A runner beats every few seconds; any runner calls
-- release_dead_workers now and then, so the jobs of a worker that died are
-- claimable again within seconds instead of after the 4-hour lock expiry.

create or replace function @schema@.record_heartbeat(
  worker_id text,
  info jsonb default null,
  now timestamptz default now()
) returns void
language plpgsql volatile
as $$
begin
  if record_heartbeat.worker_id is null or length(record_heartbeat.worker_id) < 10 then
    raise exception 'worker_id must be at least 10 characters (got %)', quote_nullable(record_heartbeat.worker_id)
      using errcode = '22023';
  end if;
  insert into @schema@._private_workers as w (worker_id, started_at, last_heartbeat_at, info)
  values (record_heartbeat.worker_id, record_heartbeat.now, record_heartbeat.now,
          coalesce(record_heartbeat.info, '{}'::jsonb))
  -- By constraint: a bare (worker_id) would clash with the parameter of that name.
  on conflict on constraint _private_workers_pkey do update
  set last_heartbeat_at = excluded.last_heartbeat_at,
      info = coalesce(record_heartbeat.info, w.info);
end;
$$;

-- Release everything held by workers silent for longer than heartbeat_timeout.
-- Their running jobs keep the attempt (a crash counts as a failed attempt)
-- and say why in last_error. Returns each dead worker and how many jobs it lost.
create or replace function @schema@.release_dead_workers(
  heartbeat_timeout interval default interval '20 seconds',
  now timestamptz default now()
) returns table (worker_id text, released_jobs integer)
language plpgsql volatile
as $$
begin
  return query
  with dead as (
    delete from @schema@._private_workers as w
    where w.worker_id in (
      select d.worker_id from @schema@._private_workers as d
      where d.last_heartbeat_at < release_dead_workers.now - release_dead_workers.heartbeat_timeout
      for update skip locked)
    returning w.worker_id, w.last_heartbeat_at
  ), released as (
    update @schema@._private_jobs as j
    set locked_at = null,
        locked_by = null,
        last_error = format('worker %s stopped sending heartbeats (last at %s); job released',
                            d.worker_id, d.last_heartbeat_at),
        errors = coalesce(j.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
          'at', release_dead_workers.now, 'attempt', j.attempts,
          'error', format('worker %s stopped sending heartbeats', d.worker_id))),
        updated_at = release_dead_workers.now
    from dead as d
    where j.locked_by = d.worker_id
      and j.id in (
        -- id order, so sessions touching the same jobs cannot deadlock
        select h.id from @schema@._private_jobs as h
        where h.locked_at is not null and h.locked_by in (select d2.worker_id from dead as d2)
        order by h.id
        for update)
    returning j.id, d.worker_id
  ), freed_queues as (
    update @schema@._private_job_queues as q
    set locked_at = null, locked_by = null
    where q.locked_by in (select d.worker_id from dead as d)
  )
  select d.worker_id, (select count(*)::integer from released as r where r.worker_id = d.worker_id)
  from dead as d;

  if found then
    perform @schema@._notify_jobs(null);
  end if;
end;
$$;

-- A worker leaving cleanly: forget it and free whatever it still holds.
create or replace function @schema@.unregister_worker(
  worker_id text
) returns void
language sql volatile
as $$
  delete from @schema@._private_workers as w where w.worker_id = unregister_worker.worker_id;
  select @schema@.force_unlock_workers(array[unregister_worker.worker_id]);
$$;

-- What a runner calls every few seconds: record its own beat and release
-- dead workers, in one round trip.
create or replace function @schema@.heartbeat(
  worker_id text,
  info jsonb default null,
  heartbeat_timeout interval default interval '20 seconds',
  now timestamptz default now()
) returns table (dead_worker_id text, released_jobs integer)
language plpgsql volatile
as $$
begin
  perform @schema@.record_heartbeat(heartbeat.worker_id, heartbeat.info, heartbeat.now);

  -- A live worker's long jobs are not abandoned: renew its locks once they are
  -- an hour old, so the 4-hour lock expiry (get_jobs, admin functions) only
  -- ever catches workers that stopped beating or never beat.
  update @schema@._private_jobs as j
  set locked_at = heartbeat.now
  where j.locked_at is not null and j.locked_by = heartbeat.worker_id
    and j.locked_at < heartbeat.now - interval '1 hour';
  update @schema@._private_job_queues as q
  set locked_at = heartbeat.now
  where q.locked_by = heartbeat.worker_id and q.locked_at < heartbeat.now - interval '1 hour';

  return query
  select d.worker_id, d.released_jobs
  from @schema@.release_dead_workers(heartbeat.heartbeat_timeout, heartbeat.now) as d;
end;
$$;
