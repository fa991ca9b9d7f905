-- Admin: pause and resume a named queue or a task. While paused, no claim
-- takes its jobs: they keep their state (available jobs stay available) and
-- running ones finish. A resume lists the queue's next job for the claim and
-- wakes idle workers at once. Each call is idempotent and returns whether it
-- changed something. Both kinds share _set_paused.
--
-- A queue: a queue with no row yet (no job ever added) gets one, paused, so
-- its first jobs wait too; resuming a queue that has no row is an error. The
-- row lock taken here is the one a claim takes on the queue (skipping it
-- while held), so a claim either took its jobs before the pause commits or
-- sees the queue paused.
-- A task (queued jobs and unqueued alike): claims read _private_paused_tasks
-- and keep their lock on it until they commit; the exclusive lock a pause
-- takes waits for those in flight, so once a pause has committed no claim can
-- take the task's jobs on the strength of what it read before. Claims are
-- short: the wait is a few milliseconds, and new claims wait as long. There
-- is no list of tasks to check a name against: any task can be paused before
-- its first job exists.
create or replace function @schema@._set_paused(
  kind text,  -- 'queue' or 'task'
  name text,
  paused boolean
) returns boolean
language plpgsql volatile
as $$
declare
  v_changed boolean := false;
  v_was boolean;  -- the queue's paused flag before (null: no row)
begin
  if _set_paused.name is null or length(_set_paused.name) not between 1 and 128 then
    raise exception '% must be 1 to 128 characters (got %)',
      case _set_paused.kind when 'queue' then 'queue_name' else 'task_identifier' end,
      quote_nullable(_set_paused.name)
      using errcode = '22023';
  end if;

  if _set_paused.kind = 'queue' then
    select q.paused into v_was from @schema@._private_job_queues as q
    where q.queue_name = _set_paused.name
    for no key update of q;
    if not found and not _set_paused.paused then
      raise exception 'no queue named % (a queue exists once a job is added to it or it is paused)',
        quote_literal(_set_paused.name)
        using errcode = 'P0002';
    end if;
    v_changed := v_was is distinct from _set_paused.paused;
    if v_changed then
      insert into @schema@._private_job_queues as q (queue_name, paused)
      values (_set_paused.name, _set_paused.paused)
      on conflict on constraint _private_job_queues_pkey do update set paused = excluded.paused;
      if _set_paused.paused then  -- its listing goes now rather than at the next claim or maintain()
        perform @schema@._refresh_queue_heads(array[_set_paused.name]);
      else
        perform @schema@._offer_queue_heads(array[_set_paused.name]);
      end if;
    end if;
  else
    if _set_paused.paused then
      -- before any read of the table: two pauses that each read it first would
      -- each wait for the other's read lock
      lock table @schema@._private_paused_tasks in access exclusive mode;
      insert into @schema@._private_paused_tasks (task_identifier) values (_set_paused.name)
      on conflict do nothing;
    else
      delete from @schema@._private_paused_tasks as p where p.task_identifier = _set_paused.name;
    end if;
    v_changed := found;
  end if;

  if v_changed and not _set_paused.paused then
    perform @schema@._notify_jobs();
  end if;
  perform @schema@._audit(case when _set_paused.paused then 'pause_' else 'resume_' end || _set_paused.kind,
                          array[_set_paused.name], jsonb_build_object('changed', v_changed));
  return v_changed;
end;
$$;

create or replace function @schema@.pause_queue(queue_name text) returns boolean
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select @schema@._set_paused('queue', pause_queue.queue_name, true); $$;

create or replace function @schema@.resume_queue(queue_name text) returns boolean
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select @schema@._set_paused('queue', resume_queue.queue_name, false); $$;

create or replace function @schema@.pause_task(task_identifier text) returns boolean
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select @schema@._set_paused('task', pause_task.task_identifier, true); $$;

create or replace function @schema@.resume_task(task_identifier text) returns boolean
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select @schema@._set_paused('task', resume_task.task_identifier, false); $$;
