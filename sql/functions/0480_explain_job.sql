-- Why a job is not running now, in one sentence, for whoever investigates:
-- its state, the reason and, when the reason ends at a known time, until
-- when. For an available job it names what the claim would skip it for, in
-- the claim's order: its queue paused, its task paused, its queue full (the
-- jobs that hold it), jobs of its queue ahead of it; else it waits for a
-- free worker (or for one that runs its task). Read-only; security definer so
-- that a read role, which sees only the jobs view, can call it.
create or replace function @schema@.explain_job(
  job_id bigint
) returns table (state text, reason text, until timestamptz)
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_job @schema@._private_jobs;
  v_queue @schema@._private_job_queues;
  v_error text;
  v_holders bigint[];
  v_ahead bigint[];
  v_worker @schema@._private_workers;
  v_flags text;
  v_key @schema@._private_job_queues;  -- the key (queue or limit key) that holds it, if any
begin
  if explain_job.job_id is null then
    raise exception 'job_id must not be null' using errcode = '22004';
  end if;
  select * into v_job from @schema@._private_jobs as j where j.id = explain_job.job_id;
  if not found then
    raise exception 'no job %', explain_job.job_id using errcode = 'P0002';
  end if;
  state := v_job.state;
  -- the first line of the last error, shortened: a sentence, not a traceback
  v_error := left(split_part(coalesce(v_job.last_error, ''), E'\n', 1), 200);
  if v_job.queue_name is not null then
    select * into v_queue from @schema@._private_job_queues as q where q.queue_name = v_job.queue_name;
  end if;

  case v_job.state
  when 'scheduled' then
    until := v_job.run_at;
    reason := case when v_job.run_at > now() then format('scheduled to run at %s', v_job.run_at)
                   else format('due since %s: the next claim of its task or maintain() makes it available',
                               v_job.run_at) end;
  when 'retryable' then
    until := v_job.run_at;
    reason := format('attempt %s of %s failed: %s; it runs again at %s', v_job.attempts, v_job.max_attempts,
                     to_json(v_error), v_job.run_at);
  when 'blocked' then
    -- the parents that have not completed yet (a completed one left its result)
    v_ahead := array(select distinct p from unnest(v_job.depends_on) as p
                     where not coalesce(v_job.parent_results, '{}'::jsonb) ? p::text order by p);
    reason := case when cardinality(v_ahead) > 0
                   then format('blocked: waiting on job %s', array_to_string(v_ahead, ', job '))
                   else 'blocked: it waits for the jobs it depends on to complete' end;
  when 'running' then
    select * into v_worker from @schema@._private_workers as w where w.worker_id = v_job.locked_by;
    until := v_worker.last_heartbeat_at + v_worker.lease_timeout;
    reason := format('running: held by worker %s since %s (attempt %s of %s)', v_job.locked_by,
                     v_job.locked_at, v_job.attempts, v_job.max_attempts);
    if v_worker.worker_id is null then
      reason := reason || '; that worker is not registered: its lock expires after job_expiry (maintain())';
    elsif until < now() then
      reason := reason || format('; its worker missed its heartbeats since %s and will be presumed dead '
                                 'by the next heartbeat of another worker', v_worker.last_heartbeat_at);
    end if;
    if v_job.cancel_requested_at is not null then
      reason := reason || format('; a cancel was requested at %s%s', v_job.cancel_requested_at,
                                 coalesce(' (' || v_job.cancel_reason || ')', ''));
    end if;
  when 'completed' then
    until := v_job.keep_until;
    reason := format('completed at %s', v_job.finished_at);
  when 'failed' then
    until := v_job.keep_until;
    reason := format('failed at %s after %s of %s attempts: %s', v_job.finished_at, v_job.attempts,
                     v_job.max_attempts, to_json(v_error));
  when 'cancelled' then
    until := v_job.keep_until;
    reason := format('cancelled at %s: %s', v_job.finished_at,
                     coalesce(v_job.cancel_reason, 'no reason given'));
  when 'available' then
    if v_queue.paused then
      reason := format('available, but its queue %s is paused (resume_queue)', v_job.queue_name);
    elsif exists (select from @schema@._private_paused_tasks as p where p.task_identifier = v_job.task_identifier) then
      reason := format('available, but its task %s is paused (resume_task)', v_job.task_identifier);
    else
      -- flow control (0097_limits.sql): the first of its keys, queue first,
      -- that can start nothing now
      select q.* into v_key
      from unnest(array[v_job.queue_name] || coalesce(v_job.limit_keys, '{}')) with ordinality as k(key, ord)
      join @schema@._private_job_queues as q on q.queue_name = k.key
      where q.paused_until > now() or (q.max_per_period is not null and @schema@._key_room(q, now()) <= 0)
         or (k.ord > 1 and q.running >= q.max_running)
      order by k.ord limit 1;
    end if;
    if v_key.queue_name is not null then
      until := @schema@._key_opens_at(v_key, now());
      reason := case
        when v_key.paused_until > now() then
          format('available, but limit key %s is paused by a RateLimited until %s', v_key.queue_name, until)
        when v_key.running >= v_key.max_running then
          format('available, but limit `%s` full: %s of %s running', v_key.queue_name, v_key.running,
                 v_key.max_running)
        else format('available, but rate limit `%s` until %s: %s starts per %s used', v_key.queue_name, until,
                    v_key.max_per_period, v_key.period) end;
    elsif reason is null then
      if v_queue.queue_name is not null then
        select array_agg(r.id order by r.id) into v_holders
        from (select j.id from @schema@._private_jobs as j
              where j.queue_name = v_job.queue_name and j.state = 'running' order by j.id limit 5) as r;
        select array_agg(a.id order by a.priority, a.run_at, a.id) into v_ahead
        from (select j.id, j.priority, j.run_at from @schema@._private_jobs as j
              where j.queue_name = v_job.queue_name and j.state = 'available'
                and (j.priority, j.run_at, j.id) < (v_job.priority, v_job.run_at, v_job.id)
              order by j.priority, j.run_at, j.id
              limit greatest(v_queue.max_running - v_queue.running, 1)) as a;
      end if;
      if v_queue.running >= v_queue.max_running then
        reason := format('available, but its queue %s is full: %s of %s running (%s)', v_job.queue_name,
                         v_queue.running, v_queue.max_running,
                         coalesce('held by job ' || array_to_string(v_holders, ', job '), 'held by its running jobs'));
      elsif cardinality(v_ahead) >= v_queue.max_running - v_queue.running then  -- the room goes to them
        reason := format('available, waiting in queue %s behind job %s', v_job.queue_name,
                         array_to_string(v_ahead, ', job '));
      elsif not exists (
          select from @schema@._private_workers as w
          where w.reaped_at is null and w.last_heartbeat_at + w.lease_timeout >= now()
            and (jsonb_typeof(w.info -> 'tasks') is distinct from 'array'
                 or w.info -> 'tasks' ? v_job.task_identifier)) then
        reason := format('available, but no live worker runs task %s', v_job.task_identifier);
      else
        reason := 'available: waiting for a free worker';
      end if;
      if jsonb_typeof(v_job.flags) = 'object' and v_job.flags <> '{}' then
        v_flags := (select string_agg(k, ', ' order by k) from jsonb_object_keys(v_job.flags) as k);
        reason := reason || format('; it runs unless a worker forbids flag %s', v_flags);
      end if;
    end if;
  else
    reason := format('in state %s, which explain_job does not know', v_job.state);
  end case;
  -- priority aging (0545_priority_aging.sql)
  if v_job.base_priority is not null then
    reason := reason || format('; priority %s, aged from %s', v_job.priority, v_job.base_priority);
  end if;
  return next;
end;
$$;
