-- The claim's two sources, each locking what it returns (rows other claimers
-- hold are skipped, never waited for) in (priority, run_at, id) order.
-- Every locking query repeats the conditions that make a job claimable: the
-- lock is taken on the row's latest version, which may differ from the one
-- the scan saw, and only the locking query's own conditions are re-checked.

-- Both also give each job's row address (ctids): a row this transaction has
-- locked cannot move, so the claim's update finds it there instead of looking
-- its id up in the primary key again.

-- Flow control: both step over jobs with a limit key in closed_keys (null:
-- none closed, the common case, where the test costs nothing) and say whether
-- they locked any job with limit keys (`limited`), which the claim then admits.

-- Available jobs without a queue, of these tasks, that carry no forbidden flag.
create or replace function @schema@._pick_unqueued_jobs(
  task_identifiers text[],
  forbidden_flags text[],
  max_jobs integer,
  closed_keys text[],
  out ids bigint[],
  out priorities smallint[],
  out run_ats timestamptz[],
  out limited boolean,
  out ctids tid[]
)
language plpgsql volatile
as $$
declare
  v_tasks text[] := _pick_unqueued_jobs.task_identifiers;
  v_flags text[] := _pick_unqueued_jobs.forbidden_flags;
  v_closed text[] := _pick_unqueued_jobs.closed_keys;
  v_window integer := _pick_unqueued_jobs.max_jobs * 2;
  v_got record;
  -- hint mode (0185_claim_hints.sql): where each task's scan starts (null: before every job)
  v_hinted boolean;
  v_from_priorities smallint[];
  v_from_run_ats timestamptz[];
  v_from_ids bigint[];
  v_entries bigint;  -- jobs_available entries this session has read (statistics)
  v_stepped bigint;  -- of them, not locked nor candidates, in scans from the start (null: none)
  v_merged boolean := false;  -- locked in more than one scan: sort
begin
  if cardinality(v_tasks) = 0 or _pick_unqueued_jobs.max_jobs < 1 then
    return;
  end if;
  v_hinted := coalesce(current_setting('pgrun.claim_slow_since', true), '') > '' and @schema@._claim_hints_due();
  if v_hinted then
    select h.priorities, h.run_ats, h.ids into v_from_priorities, v_from_run_ats, v_from_ids
    from @schema@._claim_hints(v_tasks) as h;
  end if;
  if cardinality(v_tasks) = 1 then
    -- One task: one ordered index scan that steps over rows others hold (from
    -- the hint in hint mode; a hinted scan that comes back short scans from
    -- the start for the rest at once).
    loop
      v_entries := pg_stat_get_xact_tuples_returned('@schema@.jobs_available'::regclass);
      select array_agg(c.id order by c.priority, c.run_at, c.id) as ids,
             array_agg(c.priority order by c.priority, c.run_at, c.id) as priorities,
             array_agg(c.run_at order by c.priority, c.run_at, c.id) as run_ats,
             bool_or(c.limit_keys is not null) as limited,
             array_agg(c.ctid order by c.priority, c.run_at, c.id) as ctids
      into v_got
      from (select j.id, j.priority, j.run_at, j.limit_keys, j.ctid from @schema@._private_jobs as j
            where j.task_identifier = v_tasks[1] and j.state = 'available' and j.queue_name is null
              -- (a row comparison: the index scan starts there)
              and (j.priority, j.run_at, j.id) > (coalesce(v_from_priorities[1], -32768),
                                                  coalesce(v_from_run_ats[1], '-infinity'),
                                                  coalesce(v_from_ids[1], -9223372036854775808))
              and (v_flags is null or j.flags is null or not j.flags ?| v_flags)
              and (v_closed is null or j.limit_keys is null or not j.limit_keys && v_closed)
              and (ids is null or not j.id = any(ids))  -- (locked by the hinted scan)
            order by j.priority, j.run_at, j.id
            limit _pick_unqueued_jobs.max_jobs - coalesce(cardinality(ids), 0)
            for update of j skip locked) as c;
      v_merged := ids is not null and v_got.ids is not null;
      if ids is null then
        ids := v_got.ids; priorities := v_got.priorities; run_ats := v_got.run_ats;
        ctids := v_got.ctids; limited := v_got.limited;
      elsif v_got.ids is not null then
        ids := ids || v_got.ids; priorities := priorities || v_got.priorities;
        run_ats := run_ats || v_got.run_ats; ctids := ctids || v_got.ctids;
        limited := limited or v_got.limited;
      end if;
      if not v_hinted then
        v_stepped := pg_stat_get_xact_tuples_returned('@schema@.jobs_available'::regclass) - v_entries
                     - coalesce(cardinality(v_got.ids), 0);
        exit;
      end if;
      exit when coalesce(cardinality(ids), 0) >= _pick_unqueued_jobs.max_jobs;
      v_hinted := false;  -- short: the rest from the start
      v_from_priorities := null; v_from_run_ats := null; v_from_ids := null;
    end loop;
  else
    -- Several tasks: the best few of each task (one probe per task, from its
    -- hint in hint mode), merged; when other claimers hold too many of them,
    -- look further; when the hinted probes come back short, from the start.
    for round in 1..4 loop
      v_entries := pg_stat_get_xact_tuples_returned('@schema@.jobs_available'::regclass);
      with candidates as (
        select d.id from unnest(v_tasks, v_from_priorities, v_from_run_ats, v_from_ids)
                         as t(task_identifier, from_priority, from_run_at, from_id)
        cross join lateral (
          select j.id from @schema@._private_jobs as j
          where j.task_identifier = t.task_identifier and j.state = 'available' and j.queue_name is null
            and (j.priority, j.run_at, j.id) > (coalesce(t.from_priority, -32768), coalesce(t.from_run_at, '-infinity'),
                                                coalesce(t.from_id, -9223372036854775808))
            and (v_flags is null or j.flags is null or not j.flags ?| v_flags)
            and (v_closed is null or j.limit_keys is null or not j.limit_keys && v_closed)
            and (ids is null or not j.id = any(ids))
          order by j.priority, j.run_at, j.id limit v_window) as d
      ), locked as (
        -- (by the primary key: `is not distinct from` implies no partial index's
        -- predicate, or a plan made without statistics reads all of jobs_available,
        -- every dead entry of every task included, to find the candidates)
        select j.id, j.priority, j.run_at, j.limit_keys, j.ctid from @schema@._private_jobs as j
        where j.id = any(array(select c.id from candidates as c))
          and j.state is not distinct from 'available' and j.queue_name is null
          and (v_flags is null or j.flags is null or not j.flags ?| v_flags)
          and (v_closed is null or j.limit_keys is null or not j.limit_keys && v_closed)
        order by j.priority, j.run_at, j.id
        limit _pick_unqueued_jobs.max_jobs - coalesce(cardinality(ids), 0)
        for update of j skip locked
      )
      select (select count(*) from candidates) as candidates,
             (select array_agg(l.id order by l.priority, l.run_at, l.id) from locked as l) as ids,
             (select array_agg(l.priority order by l.priority, l.run_at, l.id) from locked as l) as priorities,
             (select array_agg(l.run_at order by l.priority, l.run_at, l.id) from locked as l) as run_ats,
             (select bool_or(l.limit_keys is not null) from locked as l) as limited,
             (select array_agg(l.ctid order by l.priority, l.run_at, l.id) from locked as l) as ctids
      into v_got;
      if not v_hinted then
        v_stepped := coalesce(v_stepped, 0) + pg_stat_get_xact_tuples_returned('@schema@.jobs_available'::regclass)
                     - v_entries - v_got.candidates;
      end if;
      v_merged := v_merged or (cardinality(ids) > 0 and v_got.ids is not null);
      limited := coalesce(limited, false) or coalesce(v_got.limited, false);
      ids := coalesce(ids, '{}') || coalesce(v_got.ids, '{}');
      priorities := coalesce(priorities, '{}') || coalesce(v_got.priorities, '{}');
      run_ats := coalesce(run_ats, '{}') || coalesce(v_got.run_ats, '{}');
      ctids := coalesce(ctids, '{}') || coalesce(v_got.ctids, '{}');
      exit when cardinality(ids) >= _pick_unqueued_jobs.max_jobs;
      if v_hinted then
        v_hinted := false;  -- the hinted probes came back short: the rest from the start
        v_from_priorities := null; v_from_run_ats := null; v_from_ids := null;
        continue;
      end if;
      exit when v_got.candidates < v_window;  -- no task had more to offer
      v_window := v_window * 4;
    end loop;
  end if;
  if v_stepped is not null then
    perform @schema@._note_claim_scan(v_stepped);
  end if;
  -- Two scans (a hinted one and one from the start) or several rounds found
  -- jobs: each in order, not all together.
  if v_merged then
    select array_agg(c.id order by c.priority, c.run_at, c.id), array_agg(c.priority order by c.priority, c.run_at, c.id),
           array_agg(c.run_at order by c.priority, c.run_at, c.id), array_agg(c.ctid order by c.priority, c.run_at, c.id)
    into ids, priorities, run_ats, ctids
    from unnest(ids, priorities, run_ats, ctids) as c(id, priority, run_at, ctid);
  end if;
end;
$$;

-- The next jobs of listed queues that have room, of tasks not paused: queues are visited in the
-- order of their listing (_private_queue_heads) and locked, skipping those
-- another claimer holds; each gives at most its free room. Returns the jobs
-- locked (queue_names: each one's queue) and `stale`, the queues whose
-- listing no longer matched a job.
create or replace function @schema@._pick_queued_jobs(
  task_identifiers text[],
  forbidden_flags text[],
  max_jobs integer,
  paused_tasks text[],
  closed_keys text[],
  now timestamptz,
  out ids bigint[],
  out priorities smallint[],
  out run_ats timestamptz[],
  out queue_names text[],
  out stale text[],
  out limited boolean,
  out turns integer[],
  out ctids tid[]
)
language plpgsql volatile
as $$
declare
  v_tasks text[] := _pick_queued_jobs.task_identifiers;
  v_flags text[] := _pick_queued_jobs.forbidden_flags;
  v_paused text[] := _pick_queued_jobs.paused_tasks;  -- null: none
  v_closed text[] := _pick_queued_jobs.closed_keys;  -- null: none
  v_visit integer := _pick_queued_jobs.max_jobs + 8;
  v_seen text[] := '{}';
  v_queues record;
  v_got record;
  v_need integer;  -- jobs still wanted in this round
  v_share integer;  -- how many a limited key gives at most in this pass
begin
  -- (the claim looked whether any queue is listed before calling)
  if _pick_queued_jobs.max_jobs < 1 then
    return;
  end if;
  for round in 1..3 loop
    with locked as (
      select q.queue_name, h.priority, h.run_at, h.job_id, q.has_limit, q.room
      from @schema@._private_queue_heads as h
      -- (a locking subquery is never flattened: the claim walks the listing in
      -- its order and stops after v_visit queues, whatever the statistics say;
      -- joined, a plan made after an autovacuum's analyze sorted the whole
      -- listing on every claim: over 500 ms with 10,000 listed queues)
      cross join lateral (
        select q.queue_name, q.has_limit,
               -- a rate or a RateLimited pause may leave less room (0097_limits.sql)
               case when q.max_per_period is null and q.paused_until is null then q.max_running - q.running
                    else @schema@._key_room(q, _pick_queued_jobs.now) end as room
        from @schema@._private_job_queues as q
        where q.queue_name = h.queue_name and not q.paused and q.running < q.max_running
          and not q.queue_name = any(v_seen)
        for no key update of q skip locked) as q
      -- A listing says a queue has a job for some worker, not for this one:
      -- with a task or flag filter, a queue that holds none of this worker's
      -- jobs is stepped over (one probe) instead of using up the visits,
      -- or queues of other tasks listed ahead would starve this worker's.
      -- (A scalar subquery with a limit, not exists: the planner turns an
      -- exists under OR into one hash of every available queued job of
      -- these tasks, built on each claim: 100 ms with 10,000 listed queues.)
      where (v_tasks is null and v_flags is null and v_paused is null
             or (select true from @schema@._private_jobs as j
                 where j.queue_name = h.queue_name and j.state = 'available'
                   and (v_tasks is null or j.task_identifier = any(v_tasks))
                   and case when v_paused is null then true else not j.task_identifier = any(v_paused) end
                   and (v_flags is null or j.flags is null or not j.flags ?| v_flags)
                 limit 1))
      order by h.priority, h.run_at, h.job_id
      limit v_visit
    ), listed as (  -- a queue listed twice is visited once, at its best listing
      -- (one its rate or pause closes is stepped over here, after the lock:
      -- as a condition above it would change the plan of every claim)
      select distinct on (l.queue_name) l.* from locked as l
      where l.room > 0
      order by l.queue_name, l.priority, l.run_at, l.job_id
    )
    select (select array_agg(x.queue_name order by x.priority, x.run_at, x.job_id) from listed as x) as names,
           (select array_agg(x.room order by x.priority, x.run_at, x.job_id) from listed as x) as rooms,
           (select array_agg(x.job_id order by x.priority, x.run_at, x.job_id) from listed as x) as hints,
           (select array_agg(x.has_limit order by x.priority, x.run_at, x.job_id) from listed as x) as fair,
           (select count(*) from locked) as visited,
           (select array_agg(l.queue_name) from locked as l) as locked_names
    into v_queues;
    -- (queues whose rate or pause closes them were visited too: not again)
    v_seen := v_seen || coalesce(v_queues.locked_names, '{}');
    continue when v_queues.names is null and v_queues.visited = v_visit;
    exit when v_queues.names is null;

    -- A limited key's turns after its first rarely make the claim when many
    -- keys are listed: each first locks its share of the jobs wanted, and
    -- all of its room (as other queues do) only when a key it cut short may
    -- have had a job that would have been taken (one of better priority than
    -- the last wanted job locked, or too few locked).
    v_need := _pick_queued_jobs.max_jobs - coalesce(cardinality(ids), 0);
    v_share := ceil(v_need::numeric / cardinality(v_queues.names))::integer;
    loop
      with heads as (
        select c.queue_name, c.hint, c.room, c.fair, h.id, h.priority, h.run_at, h.limit_keys, h.ctid,
               -- fairness: a limited key's jobs take turns with other keys' (its
               -- first beside their first, ...); other queues keep plain order
               case when c.fair then row_number() over (partition by c.queue_name
                                                        order by h.priority, h.run_at, h.id)::integer
                    else 1 end as turn
        from unnest(v_queues.names, v_queues.rooms, v_queues.hints, v_queues.fair) as c(queue_name, room, hint, fair)
        left join lateral (
          select j.id, j.priority, j.run_at, j.limit_keys, j.ctid from @schema@._private_jobs as j
          where j.queue_name = c.queue_name and j.state = 'available'
            and (v_tasks is null or j.task_identifier = any(v_tasks))
            and case when v_paused is null then true else not j.task_identifier = any(v_paused) end
            and (v_flags is null or j.flags is null or not j.flags ?| v_flags)
            and (v_closed is null or j.limit_keys is null or not j.limit_keys && v_closed)
          order by j.priority, j.run_at, j.id
          limit least(c.room, _pick_queued_jobs.max_jobs,
                      case when c.fair then v_share else _pick_queued_jobs.max_jobs end)
          for update of j skip locked) as h on true
      )
      select array_agg(h.id order by h.priority, h.run_at, h.id) filter (where h.id is not null) as ids,
             array_agg(h.priority order by h.priority, h.run_at, h.id) filter (where h.id is not null) as priorities,
             array_agg(h.run_at order by h.priority, h.run_at, h.id) filter (where h.id is not null) as run_ats,
             array_agg(h.turn order by h.priority, h.run_at, h.id) filter (where h.id is not null) as turns,
             array_agg(h.ctid order by h.priority, h.run_at, h.id) filter (where h.id is not null) as ctids,
             array_agg(h.queue_name order by h.priority, h.run_at, h.id) filter (where h.id is not null) as queue_names,
             bool_or(h.limit_keys is not null) as limited,
             -- listed, yet its hint is no longer available: the listing is out of date
             array_agg(h.queue_name) filter (where h.id is null and not exists (
               select from @schema@._private_jobs as j
               where j.id = h.hint and j.state = 'available' and j.queue_name = h.queue_name)) as stale,
             -- the priority of the last wanted job in the claim's order (null: too few)
             (array_agg(h.priority order by h.priority, h.turn, h.run_at, h.id)
                filter (where h.id is not null))[v_need] as last_wanted,
             -- the best priority a cut-short key's next job may have (null: none cut)
             min(h.priority) filter (where h.fair and h.turn = v_share and h.room > v_share) as cut
      into v_got
      from heads as h;
      exit when v_got.cut is null or v_got.cut >= v_got.last_wanted or v_share >= _pick_queued_jobs.max_jobs;
      v_share := _pick_queued_jobs.max_jobs;  -- again, each key up to its room (its locks are kept)
    end loop;
    ids := coalesce(ids, '{}') || coalesce(v_got.ids, '{}');
    priorities := coalesce(priorities, '{}') || coalesce(v_got.priorities, '{}');
    run_ats := coalesce(run_ats, '{}') || coalesce(v_got.run_ats, '{}');
    turns := coalesce(turns, '{}') || coalesce(v_got.turns, '{}');
    ctids := coalesce(ctids, '{}') || coalesce(v_got.ctids, '{}');
    queue_names := coalesce(queue_names, '{}') || coalesce(v_got.queue_names, '{}');
    stale := coalesce(stale, '{}') || coalesce(v_got.stale, '{}');
    limited := coalesce(limited, false) or coalesce(v_got.limited, false);
    exit when cardinality(ids) >= _pick_queued_jobs.max_jobs or v_queues.visited < v_visit;
  end loop;
  if cardinality(ids) = 0 then ids := null; end if;
  if cardinality(queue_names) = 0 then queue_names := null; end if;
  if cardinality(stale) = 0 then stale := null; end if;
end;
$$;
