-- Admin: limits on keys (docs/flow-control.md). A key is a queue name or an
-- entry of jobs' limit_keys; a key ending in '*' sets the default of every
-- key it matches, the most specific winning. Changes apply to the next claim.

-- Sets (replaces) the limit of a key or pattern. Null fields: no such limit
-- (a named queue without max_running runs one job at a time, as in Graphile
-- Worker). A rate is max_per_period starts in any window of length period;
-- burst (default max_per_period) caps the starts in any period * burst /
-- max_per_period, spreading the budget over the window.
create or replace function @schema@.set_limit(
  key text,
  max_running integer default null,
  max_per_period integer default null,
  period interval default null,
  burst integer default null
) returns @schema@._private_limits
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_limit @schema@._private_limits;
begin
  if set_limit.key is null or length(set_limit.key) not between 1 and 128 then
    raise exception 'key must be 1 to 128 characters (got %)', quote_nullable(set_limit.key)
      using errcode = '22023';
  end if;
  if strpos(left(set_limit.key, -1), '*') > 0 or set_limit.key = '*' then
    raise exception 'key may hold * only at its end, after a prefix (got %)', quote_literal(set_limit.key)
      using errcode = '22023';
  end if;
  if set_limit.max_running < 1 then
    raise exception 'max_running must be at least 1 (got %); pause_queue stops a queue', set_limit.max_running
      using errcode = '22023';
  end if;
  if (set_limit.max_per_period is null) <> (set_limit.period is null) then
    raise exception 'max_per_period and period go together (got % per %)',
      coalesce(set_limit.max_per_period::text, 'NULL'), coalesce(set_limit.period::text, 'NULL') using errcode = '22023';
  end if;
  if set_limit.max_per_period < 1 or set_limit.period <= interval '0' then
    raise exception 'a rate needs max_per_period of at least 1 and a positive period (got % per %)',
      set_limit.max_per_period, set_limit.period using errcode = '22023';
  end if;
  if set_limit.burst is not null and set_limit.max_per_period is null then
    raise exception 'burst needs a rate (max_per_period and period)' using errcode = '22023';
  end if;
  if set_limit.burst < 1 or set_limit.burst > set_limit.max_per_period then
    raise exception 'burst must be between 1 and max_per_period % (got %)', set_limit.max_per_period,
      set_limit.burst using errcode = '22023';
  end if;
  if set_limit.max_running is null and set_limit.max_per_period is null then
    raise exception 'set_limit needs max_running or a rate (max_per_period and period); remove_limit removes one'
      using errcode = '22023';
  end if;

  insert into @schema@._private_limits as l (key, max_running, max_per_period, period, burst, updated_at)
  values (set_limit.key, set_limit.max_running, set_limit.max_per_period, set_limit.period,
          coalesce(set_limit.burst, set_limit.max_per_period), now())
  on conflict on constraint _private_limits_pkey do update
  set max_running = excluded.max_running, max_per_period = excluded.max_per_period,
      period = excluded.period, burst = excluded.burst, updated_at = excluded.updated_at
  returning * into v_limit;
  perform @schema@._limits_changed(set_limit.key);
  return v_limit;
end;
$$;

-- Removes the limit of a key or pattern; its keys fall back to the next
-- pattern that matches them, else to no limit (one at a time for a queue).
-- Returns whether there was one.
create or replace function @schema@.remove_limit(
  key text
) returns boolean
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if remove_limit.key is null then
    raise exception 'key must not be null' using errcode = '22004';
  end if;
  delete from @schema@._private_limits as l where l.key = remove_limit.key;
  if not found then
    return false;
  end if;
  perform @schema@._limits_changed(remove_limit.key);
  return true;
end;
$$;

-- After a limit row changed: the key rows it matches take the limits now in
-- force; queues with more room than before are listed for the claim, and idle
-- workers are woken.
create or replace function @schema@._limits_changed(
  key text
) returns void
language plpgsql volatile
as $$
declare
  v_keys text[];
  v_grew text[];
begin
  v_keys := array(select q.queue_name from @schema@._private_job_queues as q
                  where q.queue_name = _limits_changed.key
                     or (right(_limits_changed.key, 1) = '*'
                         and starts_with(q.queue_name, left(_limits_changed.key, -1)))
                  order by q.queue_name);
  if cardinality(v_keys) = 0 then
    return;
  end if;
  -- in name order, as claims and outcomes lock them
  perform from @schema@._private_job_queues as q where q.queue_name = any(v_keys)
  order by q.queue_name for no key update of q;
  v_grew := @schema@._apply_limits(v_keys);
  if v_grew is not null then
    perform @schema@._offer_queue_heads(v_grew);
    perform @schema@._notify_jobs();
  end if;
end;
$$;

-- Worker-side: a handler met a provider's limit (pgrun.RateLimited). No job
-- subject to this key starts before now + retry_after, on any worker; a
-- longer pause already in force is kept. Returns until when it is paused.
create or replace function @schema@.pause_limit_key(
  key text,
  retry_after interval,
  now timestamptz default now()
) returns timestamptz
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_until timestamptz;
begin
  if pause_limit_key.key is null or length(pause_limit_key.key) not between 1 and 128
     or right(pause_limit_key.key, 1) = '*' then
    raise exception 'key must be 1 to 128 characters, not a pattern (got %)', quote_nullable(pause_limit_key.key)
      using errcode = '22023';
  end if;
  if pause_limit_key.retry_after is null or pause_limit_key.retry_after < interval '0' then
    raise exception 'retry_after must be zero or more (got %)', quote_nullable(pause_limit_key.retry_after)
      using errcode = '22023';
  end if;
  -- a key nobody used yet gets its row (a limit key's: no default max_running)
  insert into @schema@._private_job_queues as q (queue_name, limit_only, max_running)
  values (pause_limit_key.key, true, 2147483647)
  on conflict on constraint _private_job_queues_pkey do nothing;
  if found then
    perform @schema@._apply_limits(array[pause_limit_key.key]);
  end if;
  update @schema@._private_job_queues as q
  set paused_until = greatest(q.paused_until, pause_limit_key.now + pause_limit_key.retry_after)
  where q.queue_name = pause_limit_key.key
  returning q.paused_until into v_until;
  return v_until;
end;
$$;

-- Each key's limit and state, for `pgrun limits`, dashboards and metrics:
-- the limit in force and the row it comes from (set_by: the key, a pattern,
-- or null for the default), how many of its jobs run, how many more may start
-- now (room: within max_running, rate and pause), the starts in the current
-- window, until when a handler paused it, when it opens again if time closes
-- it, and how many of its jobs are available. Keys with a limit row but no
-- key row yet (patterns, keys not used) are listed too, with nulls.
create or replace function @schema@.list_limits(
  now timestamptz default now()
)
returns table (key text, set_by text, max_running integer, running integer, max_per_period integer,
               period interval, burst integer, started_in_period integer, room integer,
               paused_until timestamptz, opens_at timestamptz, waiting bigint)
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  if list_limits.now is null then
    raise exception 'now must not be null' using errcode = '22004';
  end if;
  return query
  select q.queue_name, l.key, q.max_running, q.running, q.max_per_period, q.period, q.burst,
         (select count(*)::integer from unnest(q.starts) as s where s > list_limits.now - q.period),
         greatest(@schema@._key_room(q, list_limits.now), 0),
         case when q.paused_until > list_limits.now then q.paused_until end,
         @schema@._key_opens_at(q, list_limits.now),
         case when q.limit_only
           then (select count(*) from @schema@._private_jobs as j
                 where j.state = 'available' and j.limit_keys is not null and q.queue_name = any(j.limit_keys))
           else (select count(*) from @schema@._private_jobs as j
                 where j.state = 'available' and (j.queue_name = q.queue_name
                   or j.limit_keys is not null and q.queue_name = any(j.limit_keys))) end
  from @schema@._private_job_queues as q
  left join lateral @schema@._limit_for(q.queue_name) as l on true
  where l.key is not null or q.limit_only or q.paused_until > list_limits.now
  union all
  select l.key, l.key, l.max_running, null, l.max_per_period, l.period, l.burst, null, null, null, null, null
  from @schema@._private_limits as l
  where not exists (select from @schema@._private_job_queues as q where q.queue_name = l.key)
  order by 1;
end;
$$;
