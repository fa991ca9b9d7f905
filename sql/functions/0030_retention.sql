-- Until when a job that reached a final state (completed, failed, cancelled)
-- at `at` is kept: null keeps it until removed; a time not after `at` means
-- "remove at once". The most specific rule wins: the task's, the queue's,
-- then the default; without any rule, completed jobs go at once and failed
-- and cancelled jobs stay (Graphile Worker's behaviour).
create or replace function @schema@._keep_until(
  task_identifier text,
  queue_name text,
  state text,
  at timestamptz
) returns timestamptz
language plpgsql stable
as $$
declare
  v_keep interval;
begin
  select case _keep_until.state when 'completed' then r.completed
                                when 'failed' then r.failed
                                else r.cancelled end
  into v_keep
  from @schema@._private_retention as r
  where r.task_identifier = _keep_until.task_identifier
     or (r.task_identifier is null and r.queue_name = _keep_until.queue_name)
     or (r.task_identifier is null and r.queue_name is null)
  order by (r.task_identifier is not null) desc, (r.queue_name is not null) desc
  limit 1;
  if not found then
    return case when _keep_until.state = 'completed' then _keep_until.at end;
  end if;
  return _keep_until.at + v_keep;  -- null when the rule keeps them until removed
end;
$$;

-- Admin: how long final jobs are kept, for one task, one queue, or by default
-- (both null). An interval of 0 removes at once; null keeps until removed.
-- Applies to jobs that finish from now on.
create or replace function @schema@.set_retention(
  completed interval,
  failed interval,
  cancelled interval,
  task_identifier text default null,
  queue_name text default null
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if set_retention.task_identifier is not null and set_retention.queue_name is not null then
    raise exception 'retention is set for a task or for a queue, not both' using errcode = '22023';
  end if;
  if set_retention.completed < interval '0' or set_retention.failed < interval '0'
     or set_retention.cancelled < interval '0' then
    raise exception 'retention intervals must not be negative' using errcode = '22023';
  end if;
  delete from @schema@._private_retention as r
  where r.task_identifier is not distinct from set_retention.task_identifier
    and r.queue_name is not distinct from set_retention.queue_name;
  insert into @schema@._private_retention (task_identifier, queue_name, completed, failed, cancelled)
  values (set_retention.task_identifier, set_retention.queue_name,
          set_retention.completed, set_retention.failed, set_retention.cancelled);
  perform @schema@._audit('set_retention', array[coalesce(set_retention.task_identifier, set_retention.queue_name)],
    jsonb_build_object('task_identifier', set_retention.task_identifier, 'queue_name', set_retention.queue_name,
                       'completed', set_retention.completed, 'failed', set_retention.failed,
                       'cancelled', set_retention.cancelled));
end;
$$;

-- Removes the rule of exactly this scope (a task, a queue, or the default:
-- both null) from a table of rules scoped so (_private_retention,
-- _private_dead_letters); says whether there was one.
create or replace function @schema@._forget_rule(
  rules regclass,
  task_identifier text,
  queue_name text
) returns boolean
language plpgsql volatile
as $$
declare
  v_n integer;
begin
  execute format('delete from %s as r where r.task_identifier is not distinct from $1 '
                 'and r.queue_name is not distinct from $2', _forget_rule.rules)
  using _forget_rule.task_identifier, _forget_rule.queue_name;
  get diagnostics v_n = row_count;
  return v_n > 0;
end;
$$;

-- Admin: forget a retention rule (the next more general one applies again).
-- Returns whether there was one.
create or replace function @schema@.remove_retention(
  task_identifier text default null,
  queue_name text default null
) returns boolean
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_removed boolean;
begin
  v_removed := @schema@._forget_rule('@schema@._private_retention', remove_retention.task_identifier,
                                     remove_retention.queue_name);
  perform @schema@._audit('remove_retention',
    array[coalesce(remove_retention.task_identifier, remove_retention.queue_name)],
    jsonb_build_object('task_identifier', remove_retention.task_identifier,
                       'queue_name', remove_retention.queue_name, 'removed', v_removed));
  return v_removed;
end;
$$;
