-- Whether worker_id may claim now. A worker registered with register_worker
-- (the only kind a runner should be) needs a live lease: its row, not reaped,
-- beating within its lease timeout. Without a row, `unregistered_ok` lets it
-- claim under Graphile Worker's rules (locks expire after job_expiry): that is
-- get_job's, for runners that never heartbeat. Returns the worker's row (its
-- fields null when it is not registered).
create or replace function @schema@._check_lease(
  worker_id text,
  now timestamptz,
  unregistered_ok boolean
) returns @schema@._private_workers
language plpgsql stable
as $$
declare
  v_worker @schema@._private_workers;
begin
  if _check_lease.worker_id is null or length(_check_lease.worker_id) < 10 then
    raise exception 'worker_id must be at least 10 characters (got %)', quote_nullable(_check_lease.worker_id)
      using errcode = '22023';
  end if;
  select * into v_worker from @schema@._private_workers as w where w.worker_id = _check_lease.worker_id;
  if not found then
    if _check_lease.unregistered_ok then
      return null;
    end if;
    raise exception 'worker % is not registered; call register_worker first', _check_lease.worker_id
      using errcode = 'PGR02', hint = 'a worker claims only while it holds a live lease';
  end if;
  if v_worker.protocol = 1 then
    raise exception 'pgrun''s schema was upgraded to schema 2 while worker % ran; stop it and start a pgrun that supports schema 2',
      _check_lease.worker_id using errcode = 'PGR03';
  end if;
  if v_worker.reaped_at is not null then
    raise exception 'worker % was presumed dead by % at % and its jobs were released; register again under a new id',
      _check_lease.worker_id, coalesce(v_worker.reaped_by, 'an admin'), v_worker.reaped_at
      using errcode = 'PGR01';
  end if;
  if v_worker.last_heartbeat_at < _check_lease.now - v_worker.lease_timeout then
    raise exception 'worker % has no live lease: its last heartbeat was at %, more than % ago',
      _check_lease.worker_id, v_worker.last_heartbeat_at, v_worker.lease_timeout
      using errcode = 'PGR02', hint = 'send a heartbeat, then claim again';
  end if;
  return v_worker;
end;
$$;
