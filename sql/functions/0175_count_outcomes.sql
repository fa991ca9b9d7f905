-- Counts a batch of ended attempts in the per-minute rollups (one statement,
-- called once by every _end_attempts). Arrays in the same order: the worker
-- that ran each attempt, its task, and the state its job reached. Counted:
-- completed, retryable (the attempt failed, it will be retried), failed (for
-- good), cancelled; an attempt given back, snoozed or released to run again
-- is not an outcome. Rows are upserted in key order, so two batches of one
-- worker lock them in the same order; other workers' rows are never touched.
-- counts[i] (null, or a null array: 1) is how many attempts line i stands for:
-- a caller that ended many of one task says so in one line.
-- PL/pgSQL, so that the statement's plan is kept between calls.
create or replace function @schema@._count_outcomes(
  worker_ids text[],
  tasks text[],
  states text[],
  now timestamptz,
  counts integer[]
) returns void
language plpgsql volatile
as $$
begin
  insert into @schema@._private_outcome_minutes as m
    (minute, worker_id, task_identifier, completed, retried, failed, cancelled)
  select date_trunc('minute', _count_outcomes.now), coalesce(o.worker_id, ''), o.task,
         coalesce(sum(o.n) filter (where o.state = 'completed'), 0),
         coalesce(sum(o.n) filter (where o.state = 'retryable'), 0),
         coalesce(sum(o.n) filter (where o.state = 'failed'), 0),
         coalesce(sum(o.n) filter (where o.state = 'cancelled'), 0)
  from (select u.worker_id, u.task, u.state, coalesce(u.n, 1) as n
        from unnest(_count_outcomes.worker_ids, _count_outcomes.tasks, _count_outcomes.states,
                    _count_outcomes.counts) as u(worker_id, task, state, n)) as o
  where o.state in ('completed', 'retryable', 'failed', 'cancelled') and o.task is not null
  group by coalesce(o.worker_id, ''), o.task
  order by coalesce(o.worker_id, ''), o.task
  on conflict on constraint _private_outcome_minutes_pkey do update
  set completed = m.completed + excluded.completed, retried = m.retried + excluded.retried,
      failed = m.failed + excluded.failed, cancelled = m.cancelled + excluded.cancelled;
end;
$$;
