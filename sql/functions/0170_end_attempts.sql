-- Every way an attempt ends goes through here: completed, failed (retried or
-- final), given back, released after its worker died or was unlocked. The
-- caller has locked the jobs and their queue rows (_lock_attempts). One place
-- for the state rules, queue counters, queue heads, retention and waiters.
-- messages and results are JSON objects keyed by job id (as text): a lookup
-- per row, where a join of arrays would let a generic plan go quadratic.
--   outcome 'completed': results->id is kept with the job if retention keeps it
--   outcome 'failed':    messages->>id is recorded; retried with backoff unless it was the last attempt
--                        (after delays->>id if given, else by the job's or its task's retry policy)
--   outcome 'returned':  never started: the attempt is given back, the job available again
--   outcome 'released':  its worker is gone: messages->>id recorded, the attempt
--                        counts, the job available again at once (or failed if it was the last)
--   outcome 'snoozed':   the attempt is given back (as 'returned'), nothing recorded;
--                        the job scheduled at now + delays->>id (available if that is not later)
-- permanent: ids of 'failed' jobs that fail for good whatever attempts remain.
-- Whatever the outcome, a job whose cancel was asked (cancel_jobs) ends
-- 'cancelled', with "cancelled[: reason]" in its errors and the attempt's own
-- message after it. Jobs with followers (blocked jobs depend on them, or
-- workflows) then release or cancel those (_follow_ends); the caller has
-- locked the followers too (_lock_attempts), or they are waited for.
create or replace function @schema@._end_attempts(
  job_ids bigint[],
  outcome text,
  messages jsonb default null,
  results jsonb default null,
  now timestamptz default now(),
  permanent bigint[] default null,
  delays jsonb default null
) returns table (job_id bigint, state text, run_at timestamptz, attempts smallint, max_attempts smallint)
language plpgsql volatile
as $$
declare
  v_retention boolean := exists (select from @schema@._private_retention);
  v_waited boolean := exists (select from @schema@._private_job_waiters as w
                              where w.job_id = any(_end_attempts.job_ids));
  v_max_error integer := @schema@._setting('last_error_max_chars', '16000')::integer;
  v_cancelled boolean := exists (select from @schema@._private_jobs as j  -- jobs_cancel_requested: one page
                                 where j.id = any(_end_attempts.job_ids) and j.state = 'running'
                                   and j.cancel_requested_at is not null);
  v_followers boolean := exists (select from @schema@._private_jobs as j  -- jobs_followers: one page
                                 where j.id = any(_end_attempts.job_ids) and j.has_followers);
  v_dead_letters boolean;
  v_policies boolean;
  v_ended record;
  v_queue_ready boolean := false;  -- a queue given room again has a job ready
  -- flow control: one entry per job and limit key beyond its queue (null: none)
  v_limit_keys text[];
  v_keys_freed boolean;
begin
  if exists (select from @schema@._private_jobs as j  -- jobs_running_limited: an empty index, almost always
             where j.id = any(_end_attempts.job_ids) and j.state = 'running' and j.limit_keys is not null) then
    v_limit_keys := array(select k from @schema@._private_jobs as j cross join unnest(j.limit_keys) as k
                          where j.id = any(_end_attempts.job_ids) and j.state = 'running'
                            and k is distinct from j.queue_name);
  end if;
  if _end_attempts.outcome = 'completed' and not v_retention and not v_waited and not v_cancelled
     and not v_followers then
    -- the common end: completed jobs nobody keeps leave at once
    with removed as (
      delete from @schema@._private_jobs as j
      where j.id = any(_end_attempts.job_ids)  -- locked running by the caller
      returning j.id, j.queue_name, j.run_at, j.attempts, j.max_attempts, j.task_identifier, j.locked_by
    )
    select array_agg(r.queue_name order by r.id) as queues,
           array_agg(r.task_identifier order by r.id) as tasks,
           array_agg(r.locked_by order by r.id) as workers,
           array_agg('completed'::text order by r.id) as plan_states,
           null::bigint[] as waited_ids, false as got_jobs,
           array_agg(r.id order by r.id) as ids, array_agg('completed'::text order by r.id) as states,
           array_agg(r.run_at order by r.id) as run_ats, array_agg(r.attempts order by r.id) as attempts,
           array_agg(r.max_attempts order by r.id) as max_attempts
    into v_ended
    from removed as r;
  else
    -- a failed job may leave a dead letter (0165_dead_letters.sql): almost
    -- never a rule, and then one look at an empty table
    v_dead_letters := exists (select from @schema@._private_dead_letters);
    v_policies := _end_attempts.outcome = 'failed' and exists (select from @schema@._private_retry_policies);
    with next as (
      -- (ctid: the caller holds these rows locked, so the delete and the update
      -- below find each at its address rather than in the primary key again)
      select j.id, j.ctid, j.task_identifier, j.queue_name, j.locked_by,
        case when j.cancel_requested_at is null then _end_attempts.messages ->> j.id::text
             else @schema@._cancel_message(j.cancel_reason)
                  || coalesce('; its attempt ended: ' || (_end_attempts.messages ->> j.id::text), '')
        end as message,
        _end_attempts.results -> j.id::text as result,
        case
          when j.cancel_requested_at is not null then 'cancelled'
          when _end_attempts.outcome = 'completed' then 'completed'
          when _end_attempts.outcome = 'returned' then 'available'
          when _end_attempts.outcome = 'snoozed' then
            case when (_end_attempts.delays ->> j.id::text)::interval > interval '0' then 'scheduled'
                 else 'available' end
          when j.attempts >= j.max_attempts or j.id = any(_end_attempts.permanent) then 'failed'
          when _end_attempts.outcome = 'released' then 'available'
          else 'retryable'
        end as state,
        v_waited and exists (select from @schema@._private_job_waiters as w where w.job_id = j.id) as waited
      -- (the caller locked them running; no state test here, which would let a
      -- generic plan scan every running job through jobs_running)
      from @schema@._private_jobs as j
      where j.id = any(_end_attempts.job_ids)
    ), rules as materialized (  -- retention, once per task, queue and final state among these jobs
      select d.task_identifier, d.queue_name, d.state,
             @schema@._keep_until(d.task_identifier, d.queue_name, d.state, _end_attempts.now) as keep_until
      from (select distinct n.task_identifier, coalesce(n.queue_name, '') as queue_name, n.state
            from next as n where n.state in ('completed', 'failed', 'cancelled')) as d
      where v_retention or v_waited
    ), plan as (
      select n.*, case
        when n.state not in ('completed', 'failed', 'cancelled') then null
        when n.waited then  -- whoever waits reads the outcome: keep it a while for them
          greatest(coalesce(r.keep_until, 'infinity'), _end_attempts.now + interval '10 minutes')
        when v_retention then r.keep_until
        when n.state = 'completed' then _end_attempts.now  -- by default completed jobs leave at once
      end as keep_until
      from next as n
      left join rules as r on r.task_identifier = n.task_identifier and r.state = n.state
                          and r.queue_name = coalesce(n.queue_name, '')
    ), dead as (
      select d.dead_job_id, d.dead_letter_job_id
      from @schema@._add_dead_letters(
        (select jsonb_agg(@schema@._dead_job(j, @schema@._clean_error(p.message, v_max_error),
                            @schema@._with_error(j.errors, j.attempts, p.message, _end_attempts.now)) order by p.id)
         from plan as p join @schema@._private_jobs as j on j.id = p.id
         where v_dead_letters and p.state = 'failed'),
        _end_attempts.now) as d
      where v_dead_letters
    ), removed as (
      delete from @schema@._private_jobs as j using plan as p
      where j.ctid = p.ctid and p.keep_until <= _end_attempts.now
      returning j.id, p.state, j.run_at, j.attempts, j.max_attempts
    ), moved as (
      update @schema@._private_jobs as j set
        state = p.state,
        attempts = case when _end_attempts.outcome in ('returned', 'snoozed')
                        then greatest(j.attempts - 1, 0)
                        else j.attempts end,
        -- the wait: the runner's (delays, a custom policy), else the job's or its
        -- task's retry policy (0168_retry_policies.sql), else Graphile's backoff
        run_at = case when p.state = 'retryable'
                      then greatest(_end_attempts.now, j.run_at) + coalesce(
                        (_end_attempts.delays ->> j.id::text)::interval,
                        case when j.meta is not null or v_policies
                             then @schema@._retry_wait(j.task_identifier, j.meta, j.attempts, v_policies) end,
                        exp(least(j.attempts, 10)) * interval '1 second')
                      when _end_attempts.outcome = 'snoozed' and p.state <> 'cancelled'
                      then _end_attempts.now + coalesce((_end_attempts.delays ->> j.id::text)::interval,
                                                        interval '0')
                      else j.run_at end,
        -- a retry or a snooze waits again from a new run_at, at its own priority
        -- (0545_priority_aging.sql); a give-back or a release keeps its wait
        priority = case when p.state = 'retryable' or _end_attempts.outcome = 'snoozed'
                        then coalesce(j.base_priority, j.priority) else j.priority end,
        base_priority = case when p.state = 'retryable' or _end_attempts.outcome = 'snoozed'
                             then null else j.base_priority end,
        last_error = case when _end_attempts.outcome in ('failed', 'released') or p.state = 'cancelled'
                          then @schema@._clean_error(p.message, v_max_error) else j.last_error end,
        errors = case when _end_attempts.outcome in ('failed', 'released') or p.state = 'cancelled'
                      then @schema@._with_error(j.errors, j.attempts, p.message, _end_attempts.now)
                      else j.errors end,
        result = case when p.state = 'completed' then p.result else j.result end,
        locked_at = null,
        locked_by = null,
        finished_at = case when p.state in ('completed', 'failed', 'cancelled') then _end_attempts.now end,
        keep_until = case when p.keep_until = 'infinity' then null else p.keep_until end,
        dead_letter_job_id = case when v_dead_letters and p.state = 'failed'
                                  then (select d.dead_letter_job_id from dead as d where d.dead_job_id = j.id)
                                  else j.dead_letter_job_id end,
        updated_at = _end_attempts.now
      from plan as p
      where j.ctid = p.ctid and (p.keep_until is null or p.keep_until > _end_attempts.now)
      returning j.id, j.state, j.run_at, j.attempts, j.max_attempts
    ), ended as (
      select * from moved union all select * from removed
    )
    select
      (select array_agg(p.queue_name order by p.id) from plan as p) as queues,
      (select array_agg(p.task_identifier order by p.id) from plan as p) as tasks,
      (select array_agg(p.locked_by order by p.id) from plan as p) as workers,
      (select array_agg(p.state order by p.id) from plan as p) as plan_states,
      -- only an end is announced: a retry or a release is not one
      (select array_agg(p.id) from plan as p
       where p.waited and p.state in ('completed', 'failed', 'cancelled')) as waited_ids,
      (select bool_or(p.state = 'available') from plan as p) as got_jobs,
      (select array_agg(e.id order by e.id) from ended as e) as ids,
      (select array_agg(e.state order by e.id) from ended as e) as states,
      (select array_agg(e.run_at order by e.id) from ended as e) as run_ats,
      (select array_agg(e.attempts order by e.id) from ended as e) as attempts,
      (select array_agg(e.max_attempts order by e.id) from ended as e) as max_attempts,
      (select count(*) from dead as d) as dead_letters  -- written whether or not a kept job names them
    into v_ended;
  end if;

  if v_followers then
    perform @schema@._follow_ends(v_ended.ids, v_ended.states, _end_attempts.results, _end_attempts.now);
  end if;

  -- the per-minute outcome counts (0175_count_outcomes.sql): one statement
  perform @schema@._count_outcomes(v_ended.workers, v_ended.tasks, v_ended.plan_states, _end_attempts.now, null);

  -- Their queues have room again (0095_queue_heads.sql)
  if exists (select from unnest(v_ended.queues) as q where q is not null) then
    v_queue_ready := @schema@._give_queue_room(v_ended.queues, v_ended.plan_states);
  end if;
  -- Their limit keys have room again (key rows locked in name order, as
  -- everywhere; a claim holds one only for its own short transaction).
  if cardinality(v_limit_keys) > 0 then
    perform from @schema@._private_job_queues as q where q.queue_name = any(v_limit_keys)
    order by q.queue_name for no key update of q;
    with counts as (
      select k, count(*)::integer as n from unnest(v_limit_keys) as k group by k
    ), freed as (
      update @schema@._private_job_queues as q set running = greatest(q.running - c.n, 0)
      from counts as c where q.queue_name = c.k
      returning q.running + c.n >= q.max_running as was_full
    )
    select bool_or(f.was_full) into v_keys_freed from freed as f;
  end if;
  if v_ended.waited_ids is not null then
    perform pg_notify('@schema_text@:finished', i::text) from unnest(v_ended.waited_ids) as i;
  end if;
  -- a job available again, or a queue with room again that has a job ready;
  -- a freed queue with nothing ready wakes nobody
  -- Nudge idle workers when a job is available again, when a queue with room
  -- again has a job ready (a freed queue with nothing ready wakes nobody), or
  -- when a retry falls due within a minute: the nudged worker's next claim
  -- tells it when (next_due_in), so it need not wait for its poll.
  if v_ended.got_jobs or v_keys_freed
     or v_queue_ready
     or exists (select from unnest(v_ended.states, v_ended.run_ats) as e(state, run_at)
                where e.state in ('retryable', 'scheduled')
                  and e.run_at < _end_attempts.now + interval '1 minute') then
    perform @schema@._notify_jobs();
  end if;

  return query
  select * from unnest(v_ended.ids, v_ended.states, v_ended.run_ats, v_ended.attempts, v_ended.max_attempts);
end;
$$;

-- The attempts a worker asks to end: locks those it holds under these leases
-- (jobs in id order, then their queues in name order, skipping rows another
-- transaction holds) and sorts every asked id into
--   held: locked, ready for _end_attempts;
--   busy: still this worker's, but a row was locked elsewhere: try again later;
--   lost: not this worker's attempt any more (finished, released, reclaimed).
create or replace function @schema@._lock_attempts(
  worker_id text,
  job_ids bigint[],
  leases bigint[],
  out held bigint[],
  out busy bigint[],
  out lost bigint[]
)
language plpgsql volatile
as $$
declare
  -- the lease asked for each id, looked up per row (see _end_attempts)
  v_leases jsonb := jsonb_object(_lock_attempts.job_ids::text[], _lock_attempts.leases::text[]);
  v_locked bigint[];
  v_queues text[];
  v_timeout text;
  v_free bigint[];
begin
  select array_agg(j.id order by j.id), array_agg(j.queue_name order by j.id) into v_locked, v_queues
  from (select j.id, j.queue_name from @schema@._private_jobs as j
        -- by id, never by jobs_running: see _end_plain_completions
        where j.id = any(_lock_attempts.job_ids) and j.state is not distinct from 'running'
          and j.locked_by = _lock_attempts.worker_id and j.lease = (v_leases ->> j.id::text)::bigint
        order by j.id
        for update of j skip locked) as j;
  if v_locked is not null then
    held := nullif(@schema@._lock_queues_of(v_locked, v_queues), '{}');
  end if;
  if cardinality(held) is distinct from cardinality(_lock_attempts.job_ids) then
    -- (else all of them: nothing busy, nothing lost)
    -- What could not be locked: still ours (busy) or not (lost)?
    select array_agg(a.id order by a.id) filter (where j.id is not null),
           array_agg(a.id order by a.id) filter (where j.id is null)
    into busy, lost
    from unnest(_lock_attempts.job_ids) as a(id)
    left join @schema@._private_jobs as j
      on j.id = a.id and j.lease = (v_leases ->> a.id::text)::bigint and j.state = 'running'
         and j.locked_by = _lock_attempts.worker_id
    where held is null or not a.id = any(held);

    -- A claim that compared one of these rows and found it running keeps its
    -- lock until it commits, a few milliseconds: those are worth one short wait
    -- (an application holding the row longer is not).
    if busy is not null then
      v_timeout := current_setting('lock_timeout');
      begin
        perform set_config('lock_timeout', '10ms', true);
        select array_agg(j.id order by j.id), array_agg(j.queue_name order by j.id) into v_locked, v_queues
        from (select j.id, j.queue_name from @schema@._private_jobs as j
              where j.id = any(busy) and j.state is not distinct from 'running'
                and j.locked_by = _lock_attempts.worker_id and j.lease = (v_leases ->> j.id::text)::bigint
              order by j.id
              for update of j) as j;
        perform set_config('lock_timeout', v_timeout, true);
      exception when lock_not_available then
        v_locked := null;  -- still held: busy, as said
      end;
      if v_locked is not null then
        v_locked := @schema@._lock_queues_of(v_locked, v_queues);
        held := nullif(coalesce(held, '{}') || v_locked, '{}');
        busy := nullif(array(select b from unnest(busy) as b where not b = any(v_locked) order by b), '{}');
      end if;
    end if;
  end if;

  -- Jobs whose end concerns others (0180_follow_ends.sql): their followers'
  -- rows are locked too, or the job is busy. One page while nobody has any.
  if held is not null and exists (select from @schema@._private_jobs as j
                                  where j.id = any(held) and j.has_followers) then
    v_free := @schema@._lock_followers(held);
    busy := nullif(array(select b from unnest(coalesce(busy, '{}')
                                              || array(select h from unnest(held) as h where not h = any(v_free)))
                                       as b order by b), '{}');
    held := nullif(v_free, '{}');
  end if;
end;
$$;

-- Of these locked running jobs (and their queues, in the same order), those
-- whose queue row could be locked too (skipping queue rows another transaction
-- holds): ready for _end_attempts.
create or replace function @schema@._lock_queues_of(
  job_ids bigint[],
  queue_names text[]
) returns bigint[]
language plpgsql volatile
as $$
declare
  v_free text[];
begin
  if not exists (select from unnest(_lock_queues_of.queue_names) as q where q is not null) then
    return _lock_queues_of.job_ids;
  end if;
  select array_agg(q.queue_name) into v_free
  from (select q.queue_name from @schema@._private_job_queues as q
        where q.queue_name = any(_lock_queues_of.queue_names)
        order by q.queue_name
        for no key update of q skip locked) as q;
  return array(select j.id from unnest(_lock_queues_of.job_ids, _lock_queues_of.queue_names) as j(id, queue_name)
               where j.queue_name is null or j.queue_name = any(v_free)
               order by j.id);
end;
$$;

-- The same message for each of these jobs, as _end_attempts takes them.
create or replace function @schema@._same_message(
  job_ids bigint[],
  message text
) returns jsonb
language sql immutable
as $$
  select jsonb_object(_same_message.job_ids::text[],
                      array_fill(_same_message.message, array[cardinality(_same_message.job_ids)]));
$$;
