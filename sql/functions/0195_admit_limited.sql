-- The claim's flow-control steps for jobs with limit keys (docs/flow-control.md).
-- A job's queue is counted by the queue side of the claim (its room); the
-- keys in its limit_keys are counted here.

-- Of these jobs the claim has locked (best first), those that fit in the room
-- of every one of their limit keys, in the same order. The key rows are
-- locked (in name order, skipping rows another claim or outcome holds: such a
-- key admits nothing this time) and keep their lock until commit, so two
-- claims never both take a key's last place.
create or replace function @schema@._admit_limited(
  job_ids bigint[],
  now timestamptz
) returns bigint[]
language plpgsql volatile
as $$
declare
  v_room jsonb;
  v_job record;
  v_fits boolean;
  v_admitted bigint[] := '{}';
begin
  select coalesce(jsonb_object_agg(q.queue_name, q.room), '{}') into v_room
  from (select q.queue_name,
               case when q.max_per_period is null and q.paused_until is null then q.max_running - q.running
                    else @schema@._key_room(q, _admit_limited.now) end as room
        from @schema@._private_job_queues as q
        where q.queue_name in (select k from @schema@._private_jobs as j cross join unnest(j.limit_keys) as k
                               where j.id = any(_admit_limited.job_ids) and k is distinct from j.queue_name)
        order by q.queue_name
        for no key update of q skip locked) as q;
  for v_job in
    select j.id, array(select k from unnest(j.limit_keys) as k where k is distinct from j.queue_name) as keys
    from unnest(_admit_limited.job_ids) with ordinality as c(id, ord)
    join @schema@._private_jobs as j on j.id = c.id
    order by c.ord
  loop
    v_fits := not exists (select from unnest(v_job.keys) as k where coalesce((v_room ->> k)::integer, 0) < 1);
    if v_fits then
      v_admitted := v_admitted || v_job.id;
      if cardinality(v_job.keys) > 0 then
        select v_room || jsonb_object_agg(k, (v_room ->> k)::integer - 1) into v_room from unnest(v_job.keys) as k;
      end if;
    end if;
  end loop;
  return v_admitted;
end;
$$;

-- After a claim: each limit key of these jobs counts them as running, and
-- every key with a rate (queue or limit key) records their start at `now`
-- in its window, forgetting starts older than its period.
create or replace function @schema@._count_starts(
  job_ids bigint[],
  now timestamptz
) returns void
-- plpgsql, not sql: a SQL function's statement is planned again on every
-- call (about 1 ms per claim), a plpgsql one's plan is kept for the session
language plpgsql volatile
as $$
begin
  with keyed as (
    select k.key, count(*)::integer as started, count(*) filter (where k.limit_key)::integer as limited
    from @schema@._private_jobs as j
    cross join lateral (select j.queue_name, false where j.queue_name is not null
                        union all
                        select l, true from unnest(j.limit_keys) as l where l is distinct from j.queue_name)
      as k(key, limit_key)
    where j.id = any(_count_starts.job_ids) and j.state = 'running'
    group by k.key
  )
  update @schema@._private_job_queues as q
  set running = q.running + k.limited,
      starts = case when q.max_per_period is null then q.starts
                    else array(select s from unnest(q.starts) as s where s > _count_starts.now - q.period
                               union all
                               select _count_starts.now from generate_series(1, k.started)
                               order by 1) end
  from keyed as k
  where q.queue_name = k.key and (k.limited > 0 or q.max_per_period is not null);
end;
$$;
