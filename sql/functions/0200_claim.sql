-- The claim: up to max_jobs available jobs for one worker, best first by
-- (priority, run_at, id) across unqueued jobs and the heads of named queues,
-- never more of a queue than its free room (max_running - running). It reads
-- only available jobs (the jobs_available indexes) and the queues listed in
-- _private_queue_heads, so its cost follows what it can take, not what waits.
-- Each claimed job gets attempts + 1, state running, and this claim's lease.
-- Returns the columns a runner needs (claim_jobs'), not whole rows: a claim's
-- rows are copied twice on their way out, and most columns are for later.
create or replace function @schema@._claim_jobs(
  worker_id text,
  max_jobs integer,
  task_identifiers text[],
  forbidden_flags text[],
  now timestamptz
) returns table (
  id bigint, queue_name text, task_identifier text, payload jsonb, priority smallint,
  run_at timestamptz, attempts smallint, max_attempts smallint, last_error text,
  created_at timestamptz, key text, locked_at timestamptz, revision integer, flags jsonb,
  lease bigint, timeout interval, meta jsonb
)
language plpgsql volatile
-- Estimates grow with the table and cross jit_above_cost near a million
-- rows; compiling then costs 30-80 ms per claim for nothing.
set jit = off
as $$
#variable_conflict use_column
declare
  v_tasks text[] := _claim_jobs.task_identifiers;  -- null: any task
  v_flags text[] := nullif(_claim_jobs.forbidden_flags, '{}');
  v_paused text[];  -- paused tasks (pause_task); null: none, as almost always
  v_lease bigint;
  -- what _pick_queued_jobs gave (null: nothing)
  v_queued_ids bigint[];
  v_queued_priorities smallint[];
  v_queued_run_ats timestamptz[];
  v_queued_queues text[];
  v_queued_stale text[];
  v_queued_limited boolean;
  v_queued_turns integer[];
  v_queued_ctids tid[];
  v_unqueued_tasks text[];  -- the tasks whose unqueued jobs this claim may take
  v_free record;
  v_chosen bigint[];
  v_chosen_ctids tid[];  -- their row addresses (see 0190_pick_jobs.sql)
  v_closed text[];  -- limit keys that can start nothing now (null: none, or not looked up)
  v_admitted bigint[];  -- of v_chosen, those their limit keys admit
  v_held_back boolean;  -- their limit keys admitted fewer
begin
  -- The one look at paused tasks: an empty table's first page. The lock this
  -- read takes, held until commit, is what pause_task waits for.
  if exists (select from @schema@._private_paused_tasks) then
    v_paused := array(select p.task_identifier from @schema@._private_paused_tasks as p);
    if v_tasks is not null then
      v_tasks := array(select t from unnest(v_tasks) as t where not t = any(v_paused));
    end if;
  end if;
  -- Most claims find nothing due and no queue listed: probed here, so that
  -- they call nothing more (each call costs).
  if v_tasks is null or exists (
      select from unnest(v_tasks) as t(task_identifier)
      cross join lateral (select j.run_at from @schema@._private_jobs as j
                          where j.task_identifier = t.task_identifier and j.state in ('scheduled', 'retryable')
                          order by j.run_at limit 1) as due
      where due.run_at <= _claim_jobs.now) then
    perform @schema@._promote_due_jobs(v_tasks, _claim_jobs.now);
  end if;
  -- Flow control (0097_limits.sql): the jobs locked that have limit keys are
  -- admitted within their keys' room. The keys that can start nothing are
  -- looked up (a scan of every limit key's row: 2 ms at 10,000 keys) only
  -- when a first pass locked jobs their keys held back; then a second pass
  -- steps over those keys' jobs.
  v_unqueued_tasks := coalesce(v_tasks, array(select t from @schema@._available_tasks() as t
                                              where v_paused is null or not t = any(v_paused)));
  for v_pass in 1..2 loop
    v_queued_ids := null;  -- (a second pass takes its own)
    -- Is any queue listed? One step into queue_heads_queue, not `exists`: its
    -- seq scan reads every page the listing's churn left empty before vacuum
    -- comes (280 pages in the middle of a drain over 10,000 queues).
    if (select true from @schema@._private_queue_heads as h order by h.queue_name limit 1) then
      select q.ids, q.priorities, q.run_ats, q.queue_names, q.stale, q.limited, q.turns, q.ctids
      into v_queued_ids, v_queued_priorities, v_queued_run_ats, v_queued_queues, v_queued_stale,
           v_queued_limited, v_queued_turns, v_queued_ctids
      from @schema@._pick_queued_jobs(v_tasks, v_flags, _claim_jobs.max_jobs, v_paused, v_closed,
                                      _claim_jobs.now) as q;
    end if;
    v_free := @schema@._pick_unqueued_jobs(v_unqueued_tasks, v_flags, _claim_jobs.max_jobs, v_closed);

    -- Both sides are locked; take the best max_jobs of the two (unqueued jobs
    -- alone are in order and at most max_jobs already). What is left over is
    -- released when this transaction ends.
    if v_queued_ids is null then
      v_chosen := v_free.ids;
      v_chosen_ctids := v_free.ctids;
    else
      -- (turns: a limited key's second job comes after the other keys' first
      -- ones of its priority; every other job's turn is 1)
      select array_agg(c.id order by c.priority, c.turn, c.run_at, c.id),
             array_agg(c.ctid order by c.priority, c.turn, c.run_at, c.id)
      into v_chosen, v_chosen_ctids
      from (select c.id, c.priority, c.run_at, coalesce(c.turn, 1) as turn, c.ctid
            from unnest(v_queued_ids || coalesce(v_free.ids, '{}'),
                        v_queued_priorities || coalesce(v_free.priorities, '{}'),
                        v_queued_run_ats || coalesce(v_free.run_ats, '{}'),
                        v_queued_turns, v_queued_ctids || coalesce(v_free.ctids, '{}'))
                 as c(id, priority, run_at, turn, ctid)
            order by c.priority, coalesce(c.turn, 1), c.run_at, c.id
            limit _claim_jobs.max_jobs) as c;
    end if;
    -- Jobs with limit keys are admitted within their keys' room; the others
    -- stay available (and are unlocked at commit).
    exit when v_chosen is null or not coalesce(v_free.limited or v_queued_limited, false);
    v_admitted := @schema@._admit_limited(v_chosen, _claim_jobs.now);
    v_held_back := cardinality(v_admitted) < cardinality(v_chosen);
    v_chosen_ctids := array(select c.ctid from unnest(v_chosen, v_chosen_ctids) as c(id, ctid)
                            where c.id = any(v_admitted));
    v_chosen := nullif(v_admitted, '{}');
    exit when v_pass = 2 or not v_held_back;
    v_closed := @schema@._closed_limit_keys(_claim_jobs.now);
    exit when v_closed is null;  -- held back by the room their keys had: a second pass takes the same
  end loop;

  if v_chosen is not null then
    v_lease := nextval('@schema@._private_lease_ids');
    return query
    with claimed as (
      update @schema@._private_jobs as j
      set state = 'running', attempts = j.attempts + 1, locked_at = _claim_jobs.now,
          locked_by = _claim_jobs.worker_id, lease = v_lease, updated_at = _claim_jobs.now
      where j.ctid = any(v_chosen_ctids) and j.state = 'available'
      returning j.id, j.queue_name, j.task_identifier, j.payload, j.priority, j.run_at, j.attempts,
                j.max_attempts, j.last_error, j.created_at, j.key, j.locked_at, j.revision, j.flags,
                j.lease, j.timeout, j.meta
    ), counted as (
      update @schema@._private_job_queues as q set running = q.running + c.n
      from (select c.queue_name, count(*)::integer as n from claimed as c
            where c.queue_name is not null group by c.queue_name) as c
      where q.queue_name = c.queue_name
    )
    select * from claimed as c order by c.priority, c.run_at, c.id;
    -- hint mode (0185_claim_hints.sql): the next scans start after the last jobs claimed
    if cardinality(v_free.ids) > 0 and current_setting('pgrun.claim_slow_since', true) > '' then
      perform @schema@._remember_claim_hints(v_chosen);
    end if;
    -- limit keys' counts and rates' windows, when any applies to these jobs
    -- (a key has a rate only by a limit row: a look at that small table)
    if v_free.limited or v_queued_limited
       or (v_queued_ids is not null
           and exists (select from @schema@._private_limits as l where l.max_per_period is not null)) then
      perform @schema@._count_starts(v_chosen, _claim_jobs.now);
    end if;
  end if;
  -- the claimed queues' listings now point at jobs that run, and stale ones
  -- at nothing: bring them up to date (a queue whose locked jobs were left
  -- over keeps its listing: they stay available, its room is unchanged)
  if v_queued_ids is not null or v_queued_stale is not null then
    perform @schema@._refresh_queue_heads(array(
      select distinct q.queue_name
      from unnest(v_queued_ids, v_queued_queues) as q(id, queue_name)
      where q.id = any(v_chosen)
      union
      select s from unnest(v_queued_stale) as s
      order by 1));
  end if;
end;
$$;

-- Every task that has available unqueued jobs: a skip scan over jobs_available.
create or replace function @schema@._available_tasks() returns setof text
language sql stable
as $$
  with recursive tasks (task_identifier) as (
    (select j.task_identifier from @schema@._private_jobs as j
     where j.state = 'available' and j.queue_name is null order by j.task_identifier limit 1)
    union all
    select (select j.task_identifier from @schema@._private_jobs as j
            where j.state = 'available' and j.queue_name is null and j.task_identifier > t.task_identifier
            order by j.task_identifier limit 1)
    from tasks as t where t.task_identifier is not null
  )
  select t.task_identifier from tasks as t where t.task_identifier is not null;
$$;

-- pgrun's claim for runners (worker-side API): the worker must hold a live
-- lease (register_worker, heartbeat). Returns the claimed jobs with their
-- lease, which complete_attempts, fail_attempts and return_attempts need, and
-- the job's timeout (how long this attempt may run; null: no limit) and meta
-- (add_job's: correlation id, trace context, retry policy; null: none).
-- When it claims fewer than max_jobs it adds one last row whose id is null:
--   next_due_in  seconds until the next scheduled or retryable job of these
--                tasks is due, by the database's clock (null: none)
--   look_again   claim once more before sleeping: this claim is the one that
--                found the worker idle (jobs added while it was busy sent no
--                NOTIFY, see _notify_jobs), or it passed over available jobs
--                that other sessions held at that moment (another claim's
--                leftovers, an application's row lock); a runner that keeps
--                getting nothing should look again with a growing delay
create or replace function @schema@.claim_jobs(
  worker_id text,
  max_jobs integer,
  task_identifiers text[] default null,
  forbidden_flags text[] default null,
  now timestamptz default now()
) returns table (
  id bigint, queue_name text, task_identifier text, payload jsonb, priority smallint,
  run_at timestamptz, attempts smallint, max_attempts smallint, last_error text,
  created_at timestamptz, key text, locked_at timestamptz, revision integer, flags jsonb,
  lease bigint, next_due_in double precision, look_again boolean, timeout interval, meta jsonb
)
language plpgsql volatile
set jit = off
-- plans made once per session, not per call (docs/internals.md, "Plans")
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
declare
  v_claimed integer := 0;
  v_idle boolean;
  v_became_idle boolean;
  v_worker @schema@._private_workers;
  v_closed text[];  -- limit keys that can start nothing now (null: none)
  v_opens_at timestamptz;  -- when a key closed by its rate or pause opens (null: none)
begin
  if claim_jobs.max_jobs is null or claim_jobs.max_jobs < 1 then
    raise exception 'max_jobs must be at least 1 (got %)', coalesce(claim_jobs.max_jobs::text, 'NULL')
      using errcode = '22023';
  end if;
  v_worker := @schema@._check_lease(claim_jobs.worker_id, claim_jobs.now, false);

  return query
  select j.id, j.queue_name, j.task_identifier, j.payload, j.priority, j.run_at, j.attempts,
         j.max_attempts, j.last_error, j.created_at, j.key, j.locked_at, j.revision, j.flags,
         j.lease, null::double precision, null::boolean, j.timeout, j.meta
  from @schema@._claim_jobs(claim_jobs.worker_id, claim_jobs.max_jobs, claim_jobs.task_identifiers,
                            claim_jobs.forbidden_flags, claim_jobs.now) as j;
  get diagnostics v_claimed = row_count;

  -- A worker is idle while its claims come back short: only then do
  -- enqueuers nudge it. Written only when that changes.
  v_idle := v_claimed < claim_jobs.max_jobs;
  if v_idle <> (v_worker.idle_since is not null) then
    update @schema@._private_workers as w
    set idle_since = case when v_idle then claim_jobs.now end
    where w.worker_id = claim_jobs.worker_id and (w.idle_since is null) = v_idle
    returning v_idle into v_became_idle;
  end if;

  if v_idle then  -- the last row, in one statement: each costs here
    -- flow control (0097_limits.sql): empty indexes unless limits are in use
    if exists (select from @schema@._private_jobs as j where j.state = 'available' and j.limit_keys is not null) then
      v_closed := @schema@._closed_limit_keys(claim_jobs.now);
    end if;
    -- (rates: a look at the small limits table; pauses: max(paused_until), one
    -- step into an index that is empty unless a handler raised RateLimited)
    if exists (select from @schema@._private_limits as l where l.max_per_period is not null)
       or (select max(q.paused_until) from @schema@._private_job_queues as q) > claim_jobs.now then
      v_opens_at := @schema@._next_key_opening(claim_jobs.now);
    end if;
    return query
    select null::bigint, null::text, null::text, null::jsonb, null::smallint,
      null::timestamptz, null::smallint, null::smallint, null::text, null::timestamptz, null::text,
      null::timestamptz, null::integer, null::jsonb, null::bigint,
      -- greatest() skips nulls: nothing due must stay null, not "due now"
      -- (a key's rate or pause opening counts as a job falling due)
      case when coalesce(least(due.run_at, v_opens_at), v_opens_at) is not null
        then greatest(extract(epoch from least(due.run_at, v_opens_at) - claim_jobs.now)::double precision, 0) end,
      -- look again: this claim found the worker idle, or (in this new snapshot)
      -- available jobs it could take are still there: other sessions held them
      -- while it passed by (another claim's leftovers, an application's lock)
      coalesce(v_became_idle, false)
        or exists (
          select from unnest(coalesce(claim_jobs.task_identifiers,
                                      array(select t from @schema@._available_tasks() as t))) as t(task_identifier)
          cross join lateral (
            select from @schema@._private_jobs as j
            where j.task_identifier = t.task_identifier and j.state = 'available' and j.queue_name is null
              and (claim_jobs.forbidden_flags is null or j.flags is null
                   or not j.flags ?| claim_jobs.forbidden_flags)
              and (v_closed is null or j.limit_keys is null or not j.limit_keys && v_closed)
            limit 1) as more
          where not exists (select from @schema@._private_paused_tasks as p
                            where p.task_identifier = t.task_identifier))
        or exists (
          -- the listing (small) goes first whatever the statistics say: offset 0
          -- keeps the planner from flattening these and starting from the jobs
          select from @schema@._private_queue_heads as h
          cross join lateral (select from @schema@._private_job_queues as q
                              where q.queue_name = h.queue_name and not q.paused
                                and q.running < q.max_running
                                and (q.max_per_period is null and q.paused_until is null
                                     or @schema@._key_room(q, claim_jobs.now) > 0) offset 0) as q
          cross join lateral (select from @schema@._private_jobs as j
                              where j.id = h.job_id and j.state = 'available'
                                and (v_closed is null or j.limit_keys is null or not j.limit_keys && v_closed)
                                and (claim_jobs.task_identifiers is null
                                     or j.task_identifier = any(claim_jobs.task_identifiers))
                                and not exists (select from @schema@._private_paused_tasks as p
                                                where p.task_identifier = j.task_identifier)
                              offset 0) as j),
      null::interval, null::jsonb
    from (select min(d.run_at) as run_at
          from unnest(coalesce(claim_jobs.task_identifiers, array(select t from @schema@._due_tasks() as t)))
            as t(task_identifier)
          cross join lateral (select j.run_at from @schema@._private_jobs as j
                              where j.task_identifier = t.task_identifier
                                and j.state in ('scheduled', 'retryable')
                              order by j.run_at limit 1) as d) as due;
  end if;
end;
$$;

-- Graphile Worker's claim in batch form (pgrun's, schema 1): up to max_jobs
-- jobs as rows of the jobs table. A worker registered with register_worker
-- needs a live lease; a worker without a row claims as under Graphile Worker,
-- its locks expiring after job_expiry.
create or replace function @schema@.get_jobs(
  worker_id text,
  task_identifiers text[] default null,
  job_expiry interval default interval '4 hours',
  forbidden_flags text[] default null,
  now timestamptz default now(),
  max_jobs integer default 1
) returns setof @schema@._private_jobs
language plpgsql volatile
set jit = off
-- plans made once per session, not per call (docs/internals.md, "Plans")
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[];
begin
  if get_jobs.max_jobs is null or get_jobs.max_jobs < 1 then
    return;
  end if;
  if (@schema@._check_lease(get_jobs.worker_id, get_jobs.now, true)).worker_id is null then
    perform @schema@._release_expired_locks(coalesce(get_jobs.job_expiry, interval '4 hours'), get_jobs.now);
  end if;
  -- (the claim returns a runner's columns: the rows are read again, whole, in
  -- a statement of their own, whose snapshot sees the claim's update)
  v_ids := array(select c.id from @schema@._claim_jobs(get_jobs.worker_id, get_jobs.max_jobs,
                   get_jobs.task_identifiers, get_jobs.forbidden_flags, get_jobs.now) as c);
  return query select j.* from @schema@._private_jobs as j
  where j.id = any(v_ids)
  order by j.priority, j.run_at, j.id;
end;
$$;

-- Graphile Worker's single-job claim: the next runnable job, or null.
create or replace function @schema@.get_job(
  worker_id text,
  task_identifiers text[] default null,
  job_expiry interval default interval '4 hours',
  forbidden_flags text[] default null,
  now timestamptz default now()
) returns @schema@._private_jobs
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
  select * from @schema@.get_jobs(get_job.worker_id, get_job.task_identifiers,
    get_job.job_expiry, get_job.forbidden_flags, get_job.now, 1);
$$;

