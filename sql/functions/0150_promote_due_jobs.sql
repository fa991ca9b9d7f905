-- Scheduled and retryable jobs whose run_at has come become available, at most
-- max_jobs per call, oldest first; rows another session holds are left for
-- the next call. Only the given tasks (null: every task, found by one index
-- probe per task), so a claim promotes what its worker can run and a busy
-- task's backlog costs the others nothing. Returns how many it promoted.
create or replace function @schema@._promote_due_jobs(
  task_identifiers text[],
  now timestamptz,
  max_jobs integer default 1000
) returns integer
language plpgsql volatile
as $$
declare
  v_tasks text[] := _promote_due_jobs.task_identifiers;
  v_queues text[];
  v_count integer;
begin
  if v_tasks is null then
    v_tasks := array(select t from @schema@._due_tasks() as t);
  end if;
  -- Most calls find nothing due: one probe per task and out. The probe reads
  -- each task's earliest waiting job (jobs_due, in run_at order) and compares
  -- outside: with `run_at <= now` inside, the planner, which cannot know that
  -- waiting jobs are the future ones, scans the whole table for a due row.
  if not exists (select from unnest(v_tasks) as t(task_identifier)
                 cross join lateral (select j.run_at from @schema@._private_jobs as j
                                     where j.task_identifier = t.task_identifier
                                       and j.state in ('scheduled', 'retryable')
                                     order by j.run_at
                                     limit 1) as due
                 where due.run_at <= _promote_due_jobs.now) then
    return 0;
  end if;

  with due as (
    select j.id from @schema@._private_jobs as j
    where j.id in (
      select d.id from unnest(v_tasks) as t(task_identifier)
      cross join lateral (select j2.id, j2.run_at from @schema@._private_jobs as j2
                          where j2.task_identifier = t.task_identifier
                            and j2.state in ('scheduled', 'retryable')
                            and j2.run_at <= _promote_due_jobs.now
                          order by j2.run_at limit _promote_due_jobs.max_jobs) as d
      order by d.run_at limit _promote_due_jobs.max_jobs)
    order by j.id
    for update skip locked
  ), promoted as (
    update @schema@._private_jobs as j set state = 'available'
    from due where j.id = due.id
      and j.state in ('scheduled', 'retryable')  -- re-checked on the row's latest version
    returning j.queue_name
  )
  select count(*)::integer, array_agg(distinct p.queue_name) filter (where p.queue_name is not null)
  into v_count, v_queues
  from promoted as p;

  if v_queues is not null then
    perform @schema@._offer_queue_heads(v_queues);
  end if;
  return v_count;
end;
$$;

-- Every task that has scheduled or retryable jobs: a skip scan over the
-- jobs_due index, one probe per task.
create or replace function @schema@._due_tasks() returns setof text
language sql stable
as $$
  with recursive tasks (task_identifier) as (
    (select j.task_identifier from @schema@._private_jobs as j
     where j.state in ('scheduled', 'retryable') order by j.task_identifier limit 1)
    union all
    select (select j.task_identifier from @schema@._private_jobs as j
            where j.state in ('scheduled', 'retryable') and j.task_identifier > t.task_identifier
            order by j.task_identifier limit 1)
    from tasks as t where t.task_identifier is not null
  )
  select t.task_identifier from tasks as t where t.task_identifier is not null;
$$;
