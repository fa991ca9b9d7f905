-- Dead letters: when a job ends 'failed' (its last attempt failed, a
-- permanent failure, a release on its last attempt, permanently_fail_jobs, the
-- timeout sweep), a job of the dead-letter task its rule names is added in the
-- same transaction, carrying the dead job ({"dead_job": {...}}); the failed
-- job records its id (dead_letter_job_id). Rules (_private_dead_letters): one
-- per task, per queue, or the default; the most specific wins. Jobs of a task
-- that is itself some rule's dead-letter task never leave dead letters, so
-- dead letters cannot chain or loop.

-- What a dead letter carries of the failed job: `j` as it was, with the
-- error history and last error its failure leaves.
create or replace function @schema@._dead_job(
  j @schema@._private_jobs,
  last_error text,
  errors jsonb
) returns jsonb
language sql immutable
as $$
  select jsonb_build_object(
    'id', (_dead_job.j).id, 'task_identifier', (_dead_job.j).task_identifier,
    'queue_name', (_dead_job.j).queue_name, 'payload', (_dead_job.j).payload,
    'attempts', (_dead_job.j).attempts, 'max_attempts', (_dead_job.j).max_attempts,
    'last_error', _dead_job.last_error, 'errors', _dead_job.errors,
    'created_at', (_dead_job.j).created_at, 'key', (_dead_job.j).key, 'flags', (_dead_job.j).flags);
$$;

-- Adds the dead letters of these failed jobs (a JSON array of _dead_job
-- objects) where a rule says so; answers which dead-letter job each got.
-- The callers hold the failed jobs' rows locked, so one failure leaves one letter.
create or replace function @schema@._add_dead_letters(
  dead_jobs jsonb,
  now timestamptz
) returns table (dead_job_id bigint, dead_letter_job_id bigint)
language plpgsql volatile
as $$
begin
  if _add_dead_letters.dead_jobs is null then
    return;
  end if;
  return query
  with letters as (
    select (d.value ->> 'id')::bigint as dead_job_id, rule.dead_letter_task, d.value as dead_job
    from jsonb_array_elements(_add_dead_letters.dead_jobs) as d
    cross join lateral (
      select r.dead_letter_task from @schema@._private_dead_letters as r
      where r.task_identifier = d.value ->> 'task_identifier'
         or (r.task_identifier is null and r.queue_name = d.value ->> 'queue_name')
         or (r.task_identifier is null and r.queue_name is null)
      order by r.task_identifier is null, r.queue_name is null
      limit 1) as rule
    where not exists (select from @schema@._private_dead_letters as own
                      where own.dead_letter_task = d.value ->> 'task_identifier')
  ), added as (
    insert into @schema@._private_jobs (task_identifier, payload, run_at, max_attempts, priority, state)
    select l.dead_letter_task, jsonb_build_object('dead_job', l.dead_job), _add_dead_letters.now, 25, 0, 'available'
    from letters as l
    order by l.dead_job_id
    returning id, (payload -> 'dead_job' ->> 'id')::bigint as dead_job_id
  )
  select a.dead_job_id, a.id from added as a;
  if found then
    perform @schema@._notify_jobs();
  end if;
end;
$$;

-- Admin: where failed jobs of a task, of a queue, or (neither given) of any
-- other job send their dead letters. Replaces the rule of the same scope.
create or replace function @schema@.set_dead_letter(
  dead_letter_task text,
  task_identifier text default null,
  queue_name text default null
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  if set_dead_letter.task_identifier is not null and set_dead_letter.queue_name is not null then
    raise exception 'a dead letter is set for a task or for a queue (or neither: the default), not both'
      using errcode = '22023';
  end if;
  if set_dead_letter.dead_letter_task is null or length(set_dead_letter.dead_letter_task) not between 1 and 128 then
    raise exception 'dead_letter_task must be 1 to 128 characters (got %)', quote_nullable(set_dead_letter.dead_letter_task)
      using errcode = '22023';
  end if;
  if set_dead_letter.dead_letter_task = set_dead_letter.task_identifier then
    raise exception 'task % cannot be its own dead-letter task', quote_literal(set_dead_letter.task_identifier)
      using errcode = '22023';
  end if;
  if length(set_dead_letter.task_identifier) = 0 or length(set_dead_letter.queue_name) = 0 then
    raise exception 'task_identifier and queue_name must not be empty (use null for no scope)'
      using errcode = '22023';
  end if;
  insert into @schema@._private_dead_letters (task_identifier, queue_name, dead_letter_task)
  values (set_dead_letter.task_identifier, set_dead_letter.queue_name, set_dead_letter.dead_letter_task)
  on conflict (coalesce(task_identifier, ''), coalesce(queue_name, '')) do update
  set dead_letter_task = excluded.dead_letter_task, created_at = now();
end;
$$;

-- Admin: forget a dead-letter rule (the next more general one applies again).
create or replace function @schema@.remove_dead_letter(
  task_identifier text default null,
  queue_name text default null
) returns boolean
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
  select @schema@._forget_rule('@schema@._private_dead_letters', remove_dead_letter.task_identifier,
                               remove_dead_letter.queue_name);
$$;
