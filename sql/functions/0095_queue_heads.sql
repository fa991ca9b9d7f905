-- Named queues the claim can take from are listed in _private_queue_heads.
-- The rule, and why no job is ever stranded (docs/internals.md):
--   whoever makes a job available in a queue, or gives a full queue room, calls
--   _offer_queue_heads in the same transaction: it pins a row of that queue
--   (FOR KEY SHARE) or adds one, so the queue stays listed until it commits;
--   whoever finds a queue full, paused or empty calls _refresh_queue_heads: it
--   removes only rows nobody pins, and decides on a snapshot taken after
--   locking them, so it sees every job whose adder pinned a row before.

-- Makes sure each of these queues keeps a row until this transaction ends,
-- and that its best available job (as this transaction sees it) is listed at
-- its own priority.
create or replace function @schema@._offer_queue_heads(
  queue_names text[]
) returns void
language plpgsql volatile
as $$
declare
  v_pinned text[];
begin
  -- Key-share locks conflict only with removal, never with each other or
  -- with a claim: many adders of one queue do not wait on each other.
  select array_agg(h.queue_name order by h.queue_name) into v_pinned
  from (select h.queue_name from @schema@._private_queue_heads as h
        where h.queue_name = any(_offer_queue_heads.queue_names)
        order by h.id
        for key share of h) as h;

  insert into @schema@._private_queue_heads (queue_name, priority, run_at, job_id)
  select best.queue_name, best.priority, best.run_at, best.id
  from unnest(_offer_queue_heads.queue_names) as q(queue_name)
  cross join lateral (
    select j.queue_name, j.priority, j.run_at, j.id from @schema@._private_jobs as j
    where j.queue_name = q.queue_name and j.state = 'available'
    order by j.priority, j.run_at, j.id limit 1) as best
  where q.queue_name is not null
    -- a listed queue needs no second row, unless its best job now runs
    -- before what the listing says (a better priority)
    and (v_pinned is null or not q.queue_name = any(v_pinned)
         or (best.priority, best.run_at, best.id) < (
              select h.priority, h.run_at, h.job_id from @schema@._private_queue_heads as h
              where h.queue_name = q.queue_name
              order by h.priority, h.run_at, h.job_id limit 1));
end;
$$;

-- Brings the rows of these queues up to date after a claim, a pause or a
-- visit that found nothing: the rows nobody pins are replaced by one row for
-- each queue that has room, is not paused and has an available job.
create or replace function @schema@._refresh_queue_heads(
  queue_names text[]
) returns void
language plpgsql volatile
as $$
begin
  if _refresh_queue_heads.queue_names is null or cardinality(_refresh_queue_heads.queue_names) = 0 then
    return;
  end if;
  -- locked and deleted in one statement, found again at their row address (a
  -- locked row cannot move) rather than in the primary key
  delete from @schema@._private_queue_heads as h
  where h.ctid = any(array(select l.ctid from @schema@._private_queue_heads as l
                           where l.queue_name = any(_refresh_queue_heads.queue_names)
                           order by l.id
                           for update of l skip locked));
  -- A new statement, hence a snapshot from after the locks above: every adder
  -- that pinned one of those rows has committed, and its job is seen here.
  insert into @schema@._private_queue_heads (queue_name, priority, run_at, job_id)
  select best.queue_name, best.priority, best.run_at, best.id
  from @schema@._private_job_queues as q
  cross join lateral (
    select j.queue_name, j.priority, j.run_at, j.id from @schema@._private_jobs as j
    where j.queue_name = q.queue_name and j.state = 'available'
    order by j.priority, j.run_at, j.id limit 1) as best
  where q.queue_name = any(_refresh_queue_heads.queue_names)
    and not q.paused and q.running < q.max_running;
end;
$$;

-- After attempts ended: their queues have room again. queue_names holds one
-- entry per ended job (null: no queue), states its state after the end; the
-- caller has locked these queue rows. Each queue's running count goes down by
-- its jobs; a queue that was full is listed again, and so is one that got a
-- job back. Says whether a queue listed again has a job ready, which is worth
-- a nudge to idle workers (a freed queue with nothing ready wakes nobody).
create or replace function @schema@._give_queue_room(
  queue_names text[],
  states text[]
) returns boolean
language plpgsql volatile
as $$
declare
  v_relist text[];
begin
  with counts as (
    select c.queue_name, count(*)::integer as n, bool_or(c.state = 'available') as got_job
    from unnest(_give_queue_room.queue_names, _give_queue_room.states) as c(queue_name, state)
    where c.queue_name is not null group by c.queue_name
  ), freed as (
    update @schema@._private_job_queues as q set running = greatest(q.running - c.n, 0)
    from counts as c where q.queue_name = c.queue_name
    returning q.queue_name, (q.running + c.n >= q.max_running or c.got_job) as relist
  )
  select array_agg(f.queue_name order by f.queue_name) filter (where f.relist) into v_relist from freed as f;
  if v_relist is null then
    return false;
  end if;
  perform @schema@._offer_queue_heads(v_relist);
  return exists (select from @schema@._private_jobs as j
                 where j.queue_name = any(v_relist) and j.state = 'available');
end;
$$;
