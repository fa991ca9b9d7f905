-- A worker snoozes attempts it holds (with their leases): each ends without
-- using up an attempt (attempts back by one, as return_attempts gives one
-- back) and without an error; the job is 'scheduled' at now() + delays[i], or
-- 'available' at once when the delay is zero. Answers every id: 'scheduled'
-- or 'available' (with the job's new run_at), 'cancelled' (its cancel was
-- asked while it ran: it ends cancelled), 'busy' (try again later) or 'lost'.
create or replace function @schema@.snooze_attempts(
  worker_id text,
  job_ids bigint[],
  leases bigint[],
  delays interval[]
) returns table (job_id bigint, outcome text, run_at timestamptz)
language plpgsql volatile
-- plans made once per session, not per call (docs/internals.md, "Plans")
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_lock record;
begin
  if snooze_attempts.job_ids is null or snooze_attempts.leases is null or snooze_attempts.delays is null then
    raise exception 'job_ids, leases and delays must not be null' using errcode = '22004';
  end if;
  if cardinality(snooze_attempts.leases) <> cardinality(snooze_attempts.job_ids)
     or cardinality(snooze_attempts.delays) <> cardinality(snooze_attempts.job_ids) then
    raise exception 'job_ids, leases and delays must have as many elements (got %, % and %)',
      cardinality(snooze_attempts.job_ids), cardinality(snooze_attempts.leases),
      cardinality(snooze_attempts.delays) using errcode = '22023';
  end if;
  if exists (select from unnest(snooze_attempts.delays) as d where d is null or d < interval '0') then
    raise exception 'delays must not be null or negative (got %)', snooze_attempts.delays
      using errcode = '22023';
  end if;
  v_lock := @schema@._lock_attempts(snooze_attempts.worker_id, snooze_attempts.job_ids, snooze_attempts.leases);
  return query
  select e.job_id, e.state, e.run_at
  from @schema@._end_attempts(v_lock.held, 'snoozed', null, null, now(), null,
    jsonb_object(snooze_attempts.job_ids::text[], snooze_attempts.delays::text[])) as e
  where v_lock.held is not null
  union all select b, 'busy', null from unnest(v_lock.busy) as b
  union all select l, 'lost', null from unnest(v_lock.lost) as l;
end;
$$;
