-- Flow control: limits as rows (docs/flow-control.md).
-- Every key a job is subject to (its queue_name and each of its limit_keys) is
-- a row of _private_job_queues, carrying the limit in force for it, copied
-- from the best _private_limits row: the claim reads one row per key.

-- The limit set for this key: its own row, else the longest pattern ending
-- in '*' whose prefix it starts with (tenant:enterprise:* beats tenant:*).
create or replace function @schema@._limit_for(
  key text
) returns @schema@._private_limits
language sql stable
as $$
  select l.* from @schema@._private_limits as l
  where l.key = _limit_for.key
     or (right(l.key, 1) = '*' and starts_with(_limit_for.key, left(l.key, -1)))
  order by (l.key = _limit_for.key) desc, length(l.key) desc
  limit 1;
$$;

-- Brings these key rows (null: every row) to the limits in force for them.
-- Writes only rows whose limit changed, so that enqueuers of a key never
-- wait on each other here. Returns the keys whose max_running grew.
create or replace function @schema@._apply_limits(
  keys text[]
) returns text[]
language sql volatile
as $$
  with wanted as (
    select q.queue_name,
           coalesce(l.max_running, case when q.limit_only then 2147483647 else 1 end) as max_running,
           l.max_per_period, l.period, l.burst, l.key is not null as has_limit, q.max_running as was
    from @schema@._private_job_queues as q
    left join lateral @schema@._limit_for(q.queue_name) as l on true
    where _apply_limits.keys is null or q.queue_name = any(_apply_limits.keys)
  ), changed as (
    update @schema@._private_job_queues as q
    set max_running = w.max_running, max_per_period = w.max_per_period, period = w.period, burst = w.burst,
        has_limit = w.has_limit,
        starts = case when w.max_per_period is null then null else q.starts end
    from wanted as w
    where q.queue_name = w.queue_name
      and (q.max_running, q.max_per_period, q.period, q.burst, q.has_limit)
          is distinct from (w.max_running, w.max_per_period, w.period, w.burst, w.has_limit)
    returning q.queue_name, q.max_running > w.was as grew
  )
  select array_agg(c.queue_name order by c.queue_name) filter (where c.grew) from changed as c;
$$;

-- Makes sure these limit keys have rows (limit_only unless the name is a
-- queue's), kept from maintain's removal until this transaction ends, as
-- _use_queues does for queues.
create or replace function @schema@._use_limit_keys(
  keys text[]
) returns void
language plpgsql volatile
as $$
declare
  v_keys text[] := array(select distinct k from unnest(_use_limit_keys.keys) as k order by 1);
  v_new text[];
begin
  if cardinality(v_keys) = 0 then
    return;
  end if;
  with made as (
    insert into @schema@._private_job_queues (queue_name, limit_only, max_running)
    select k, true, 2147483647 from unnest(v_keys) as k order by 1
    on conflict do nothing
    returning queue_name
  )
  select array_agg(m.queue_name order by m.queue_name) into v_new from made as m;
  perform from @schema@._private_job_queues as q where q.queue_name = any(v_keys)
  order by q.queue_name for key share of q;
  if v_new is not null and exists (select from @schema@._private_limits) then
    perform @schema@._apply_limits(v_new);
  end if;
end;
$$;

-- limit_keys as add_job and add_jobs take them: null, or 1 to 16 distinct
-- keys of 1 to 128 characters, none of them a pattern.
create or replace function @schema@._check_limit_keys(
  prefix text,
  limit_keys text[]
) returns void
language plpgsql immutable
as $$
begin
  if _check_limit_keys.limit_keys is null then
    return;
  end if;
  if cardinality(_check_limit_keys.limit_keys) not between 1 and 16 then
    raise exception '%limit_keys must hold 1 to 16 keys (got %)', _check_limit_keys.prefix,
      cardinality(_check_limit_keys.limit_keys) using errcode = '22023';
  end if;
  if exists (select from unnest(_check_limit_keys.limit_keys) as k
             where k is null or length(k) not between 1 and 128 or right(k, 1) = '*') then
    raise exception '%limit_keys must be keys of 1 to 128 characters, not null and not ending in * (got %)',
      _check_limit_keys.prefix, _check_limit_keys.limit_keys using errcode = '22023';
  end if;
  if (select count(distinct k) from unnest(_check_limit_keys.limit_keys) as k)
     <> cardinality(_check_limit_keys.limit_keys) then
    raise exception '%limit_keys must not repeat a key (got %)', _check_limit_keys.prefix,
      _check_limit_keys.limit_keys using errcode = '22023';
  end if;
end;
$$;

-- How many more jobs of this key may start at `now`: its free running room,
-- within its rate (at most max_per_period starts in any window of length
-- period, and at most burst in any period * burst / max_per_period), and none
-- while a handler's RateLimited pauses it.
create or replace function @schema@._key_room(
  q @schema@._private_job_queues,
  now timestamptz
) returns integer
-- plpgsql, not sql: its statements' plans are kept for the session, where a
-- non-inlined SQL function is planned again in every statement that calls it
language plpgsql stable
as $$
declare
  v_room integer := q.max_running - q.running;
begin
  if q.paused_until > _key_room.now then
    return 0;
  end if;
  if q.max_per_period is null or v_room < 1 then
    return v_room;
  end if;
  return least(
    v_room,
    q.max_per_period - (select count(*)::integer from unnest(q.starts) as s where s > _key_room.now - q.period),
    q.burst - (select count(*)::integer from unnest(q.starts) as s
               where s > _key_room.now - q.period * q.burst / q.max_per_period));
end;
$$;

-- When a key that its pause or its rate closes at `now` opens again (null:
-- it is not closed by time): the end of the pause, or the moment the oldest
-- start that fills a window leaves it.
create or replace function @schema@._key_opens_at(
  q @schema@._private_job_queues,
  now timestamptz
) returns timestamptz
language sql stable
as $$
  select case
    when q.paused_until > _key_opens_at.now then q.paused_until
    when q.max_per_period is null then null
    else nullif(greatest(
      (select s.at + q.period from unnest(q.starts) as s(at)
       where s.at > _key_opens_at.now - q.period
       order by s.at desc offset q.max_per_period - 1 limit 1),
      (select s.at + q.period * q.burst / q.max_per_period from unnest(q.starts) as s(at)
       where s.at > _key_opens_at.now - q.period * q.burst / q.max_per_period
       order by s.at desc offset q.burst - 1 limit 1)), null)
  end;
$$;

-- Limit keys that can start no job at `now` (null: none): what the claim
-- steps over before locking anything.
create or replace function @schema@._closed_limit_keys(
  now timestamptz
) returns text[]
language sql stable
as $$
  select nullif(array(select q.queue_name from @schema@._private_job_queues as q
                      where q.limit_only
                        and (q.running >= q.max_running  -- (no call for the common key)
                             or (q.max_per_period is not null or q.paused_until is not null)
                                and @schema@._key_room(q, _closed_limit_keys.now) <= 0)
                      order by q.queue_name), '{}');
$$;

-- The earliest moment a key closed by its pause or rate opens again, among
-- those with waiting jobs (null: none): the claim's next_due_in includes it.
create or replace function @schema@._next_key_opening(
  now timestamptz
) returns timestamptz
language sql stable
as $$
  select min(@schema@._key_opens_at(q, _next_key_opening.now))
  from @schema@._private_job_queues as q
  where (q.max_per_period is not null or q.paused_until is not null)
    and (exists (select from @schema@._private_jobs as j
                 where j.queue_name = q.queue_name and j.state = 'available')
         or q.limit_only and exists (select from @schema@._private_jobs as j
                                     where j.state = 'available' and j.limit_keys is not null
                                       and q.queue_name = any(j.limit_keys)));
$$;
