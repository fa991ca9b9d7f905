-- Workflows: named steps, each a job, with dependencies between them and an
-- optional compensation task each. A workflow is
--   running       while its steps run;
--   completed     once every step has completed;
--   compensating  once a step failed for good (or was cancelled): the steps
--                 still running finish, blocked ones that depend on the failed
--                 one are cancelled, then the compensations run one at a time,
--                 by descending position (reverse dependency order), for the
--                 completed steps and the failed one (its attempts may have
--                 done part of its work; in a chain its own comes first);
--   compensated   once every compensation has completed (or there was none);
--   failed        when a compensation failed for good: retry_jobs on its job
--                 runs it again, and the workflow carries on when it completes.
-- A compensation job's payload: {"workflow_id", "step", "payload" (the
-- step's), "result" (what the step returned; null for the failed step),
-- "outcome" (completed or failed)}.

-- Starts a workflow: steps is a JSON array of objects
--   {"name", "task", "payload", "depends_on": [step names], "compensate": task,
--    "compensate_max_attempts", "queue_name", "max_attempts", "priority", "run_at"}
-- (name and task required). Adds every step's job in one add_jobs call.
-- Returns the workflow's id.
create or replace function @schema@.start_workflow(
  name text,
  steps jsonb
) returns bigint
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_bad record;
  v_id bigint;
  v_specs @schema@.job_spec[];
  v_ids bigint[];
  v_levels integer[];
begin
  if start_workflow.name is null or length(start_workflow.name) not between 1 and 128 then
    raise exception 'a workflow name must have 1 to 128 characters' using errcode = '22023';
  end if;
  if jsonb_typeof(start_workflow.steps) is distinct from 'array' or jsonb_array_length(start_workflow.steps) = 0 then
    raise exception 'steps must be a non-empty JSON array of step objects' using errcode = '22023';
  end if;
  select s.ord, s.step into v_bad
  from jsonb_array_elements(start_workflow.steps) with ordinality as s(step, ord)
  where jsonb_typeof(s.step) <> 'object' or jsonb_typeof(s.step -> 'name') is distinct from 'string'
     or jsonb_typeof(s.step -> 'task') is distinct from 'string'
     or length(s.step ->> 'name') not between 1 and 128
     or (s.step ? 'depends_on' and jsonb_typeof(s.step -> 'depends_on') not in ('array', 'null'))
     or (s.step ? 'compensate' and jsonb_typeof(s.step -> 'compensate') not in ('string', 'null'))
  order by s.ord limit 1;
  if found then
    raise exception 'steps[%]: a step is an object with a "name" (1 to 128 characters) and a "task" (strings), '
      'an optional "depends_on" (an array of step names) and "compensate" (a task); got %', v_bad.ord,
      left(v_bad.step::text, 200) using errcode = '22023';
  end if;
  select s.step ->> 'name' as name into v_bad
  from jsonb_array_elements(start_workflow.steps) as s(step)
  group by s.step ->> 'name' having count(*) > 1 limit 1;
  if found then
    raise exception 'two steps are named %', quote_literal(v_bad.name) using errcode = '22023';
  end if;
  select s.step ->> 'name' as step, d.dep into v_bad
  from jsonb_array_elements(start_workflow.steps) as s(step),
       jsonb_array_elements_text(coalesce(nullif(s.step -> 'depends_on', 'null'), '[]')) as d(dep)
  where not exists (select from jsonb_array_elements(start_workflow.steps) as o(step) where o.step ->> 'name' = d.dep)
  limit 1;
  if found then
    raise exception 'step %: depends_on names no step %', quote_literal(v_bad.step), quote_literal(v_bad.dep)
      using errcode = '22023';
  end if;

  -- references between steps are -k: the job of spec k (add_jobs' graph form)
  select array_agg(row(s.step ->> 'task', coalesce(s.step -> 'payload', '{}')::json, s.step ->> 'queue_name',
                       (s.step ->> 'run_at')::timestamptz, (s.step ->> 'max_attempts')::smallint, null::text,
                       (s.step ->> 'priority')::smallint, null::text[],
                       nullif(array(select -o.ord from jsonb_array_elements_text(
                                       coalesce(nullif(s.step -> 'depends_on', 'null'), '[]')) as d(dep)
                                    join jsonb_array_elements(start_workflow.steps) with ordinality as o(step, ord)
                                      on o.step ->> 'name' = d.dep), '{}'),
                       null::text[])::@schema@.job_spec order by s.ord)
  into v_specs
  from jsonb_array_elements(start_workflow.steps) with ordinality as s(step, ord);
  v_levels := @schema@._graph_levels('start_workflow: ',
    (select jsonb_agg(coalesce((select jsonb_agg(-d) from unnest(p.depends_on) as d), '[]') order by p.ord)
     from unnest(v_specs) with ordinality as p(identifier, payload, queue_name, run_at, max_attempts, job_key,
                                                priority, flags, depends_on, limit_keys, ord)));

  insert into @schema@._private_workflows (name) values (start_workflow.name) returning id into v_id;
  v_ids := array(select j.id from @schema@.add_jobs(v_specs) as j);
  update @schema@._private_jobs as j set workflow_id = v_id, has_followers = true where j.id = any(v_ids);
  insert into @schema@._private_workflow_steps
    (workflow_id, name, position, job_id, task_identifier, depends_on, compensate, compensate_max_attempts, payload)
  select v_id, s.step ->> 'name', row_number() over (order by v_levels[s.ord], s.ord), v_ids[s.ord],
         s.step ->> 'task',
         array(select jsonb_array_elements_text(coalesce(nullif(s.step -> 'depends_on', 'null'), '[]'))),
         s.step ->> 'compensate', (s.step ->> 'compensate_max_attempts')::smallint,
         coalesce(s.step -> 'payload', '{}')
  from jsonb_array_elements(start_workflow.steps) with ordinality as s(step, ord);
  return v_id;
end;
$$;

-- Steps and compensations of workflows ended (called by _follow_ends with
-- the final states of these jobs, in the same order): records them and
-- moves each workflow on.
create or replace function @schema@._advance_workflows(
  job_ids bigint[],
  states text[],
  results jsonb,
  now timestamptz
) returns void
language plpgsql volatile
as $$
declare
  v_workflows bigint[];
  v_wf record;
begin
  with ended as (
    select * from unnest(_advance_workflows.job_ids, _advance_workflows.states) as e(id, state)
  ), steps as (
    update @schema@._private_workflow_steps as s
    set state = e.state,
        result = case when e.state = 'completed' then _advance_workflows.results -> e.id::text end,
        updated_at = _advance_workflows.now
    from ended as e
    where s.job_id = e.id and s.state = 'pending'
    returning s.workflow_id
  ), compensations as (
    update @schema@._private_workflow_steps as s
    set state = case when e.state = 'completed' then 'compensated' else 'compensation failed' end,
        updated_at = _advance_workflows.now
    from ended as e
    where s.compensation_job_id = e.id and s.state in ('compensating', 'compensation failed')
    returning s.workflow_id
  )
  select array_agg(distinct w.workflow_id) into v_workflows
  from (select workflow_id from steps union all select workflow_id from compensations) as w;

  for v_wf in
    select w.id from @schema@._private_workflows as w
    where w.id = any(v_workflows) order by w.id
    for no key update  -- (a worker's outcome locked them already: _lock_followers)
  loop
    perform @schema@._settle_workflow(v_wf.id, _advance_workflows.now);
  end loop;
end;
$$;

-- One workflow's next move, from its steps' states (its row is locked).
create or replace function @schema@._settle_workflow(
  workflow_id bigint,
  now timestamptz
) returns void
language plpgsql volatile
as $$
declare
  v_wf @schema@._private_workflows;
  v_steps record;
  v_next @schema@._private_workflow_steps;
  v_job_id bigint;
begin
  select * into v_wf from @schema@._private_workflows as w where w.id = _settle_workflow.workflow_id;
  select count(*) filter (where s.state = 'pending') as pending,
         count(*) filter (where s.state = 'completed') as completed,
         count(*) filter (where s.state = 'compensating') as compensating,
         count(*) as steps,
         -- what broke it: a failed step rather than one cancelled
         (array_agg(s.name order by s.state = 'failed' desc, s.position)
            filter (where s.state in ('failed', 'cancelled')))[1] as broken,
         (array_agg(s.state order by s.state = 'failed' desc, s.position)
            filter (where s.state in ('failed', 'cancelled')))[1] as broken_state,
         (array_agg(s.name order by s.position desc) filter (where s.state = 'compensation failed'))[1] as stuck,
         (array_agg(s.compensation_job_id order by s.position desc)
            filter (where s.state = 'compensation failed'))[1] as stuck_job
  into v_steps
  from @schema@._private_workflow_steps as s where s.workflow_id = _settle_workflow.workflow_id;

  if v_wf.state = 'running' then
    if v_steps.completed = v_steps.steps then
      update @schema@._private_workflows as w set state = 'completed', finished_at = _settle_workflow.now,
        updated_at = _settle_workflow.now where w.id = v_wf.id;
      return;
    elsif v_steps.broken is null then
      return;
    end if;
    v_wf.state := 'compensating';
    v_wf.reason := format('step %s %s', v_steps.broken,
                          case v_steps.broken_state when 'failed' then 'failed' else 'was cancelled' end);
  end if;
  if v_wf.state not in ('compensating', 'failed') then
    return;  -- completed or compensated: nothing moves it any more
  end if;

  if v_steps.stuck is not null then
    update @schema@._private_workflows as w set state = 'failed', finished_at = _settle_workflow.now,
      updated_at = _settle_workflow.now,
      reason = format('%s; the compensation of step %s (job %s) failed: retry_jobs runs it again',
                      split_part(coalesce(v_wf.reason, ''), '; ', 1), v_steps.stuck, v_steps.stuck_job)
    where w.id = v_wf.id;
    return;
  end if;
  if v_steps.compensating = 0 and v_steps.pending = 0 then
    select * into v_next from @schema@._private_workflow_steps as s
    where s.workflow_id = v_wf.id and s.state in ('completed', 'failed') and s.compensate is not null
    order by s.position desc limit 1;
    if found then
      insert into @schema@._private_jobs (task_identifier, payload, max_attempts, state, workflow_id, has_followers)
      values (v_next.compensate,
              jsonb_build_object('workflow_id', v_wf.id, 'step', v_next.name, 'payload', v_next.payload,
                                 'result', v_next.result, 'outcome', v_next.state),
              coalesce(v_next.compensate_max_attempts, 25), 'available', v_wf.id, true)
      returning id into v_job_id;
      update @schema@._private_workflow_steps as s
      set state = 'compensating', compensation_job_id = v_job_id, updated_at = _settle_workflow.now
      where s.workflow_id = v_wf.id and s.name = v_next.name;
      perform @schema@._notify_jobs();
    else
      update @schema@._private_workflows as w set state = 'compensated', reason = v_wf.reason,
        finished_at = _settle_workflow.now, updated_at = _settle_workflow.now
      where w.id = v_wf.id;
      return;
    end if;
  end if;
  -- still compensating (or again, after a failed compensation was run again)
  update @schema@._private_workflows as w set state = 'compensating', reason = v_wf.reason, finished_at = null,
    updated_at = _settle_workflow.now
  where w.id = v_wf.id and (w.state, w.reason) is distinct from ('compensating', v_wf.reason);
end;
$$;

-- Workflows, newest first (only_state: only those in that state;
-- workflow_id: only that one).
create or replace function @schema@.list_workflows(
  only_state text default null,
  max_rows integer default 100,
  workflow_id bigint default null
) returns table (id bigint, name text, state text, steps integer, steps_pending integer,
                 created_at timestamptz, updated_at timestamptz, finished_at timestamptz, reason text)
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if list_workflows.only_state is not null
     and list_workflows.only_state not in ('running', 'completed', 'failed', 'compensating', 'compensated') then
    raise exception 'unknown workflow state %; expected running, completed, failed, compensating or compensated',
      quote_literal(list_workflows.only_state) using errcode = '22023';
  end if;
  if list_workflows.max_rows is null or list_workflows.max_rows < 1 then
    raise exception 'max_rows must be at least 1' using errcode = '22023';
  end if;
  return query
  select w.id, w.name, w.state,
         (select count(*)::integer from @schema@._private_workflow_steps as s where s.workflow_id = w.id),
         (select count(*)::integer from @schema@._private_workflow_steps as s
          where s.workflow_id = w.id and s.state = 'pending'),
         w.created_at, w.updated_at, w.finished_at, w.reason
  from @schema@._private_workflows as w
  where (list_workflows.only_state is null or w.state = list_workflows.only_state)
    and (list_workflows.workflow_id is null or w.id = list_workflows.workflow_id)
  order by w.id desc
  limit list_workflows.max_rows;
end;
$$;

-- One workflow's steps in their order, with their jobs' states (null once a
-- job has left: its step's state says how it ended).
create or replace function @schema@.workflow_steps(
  workflow_id bigint
) returns table (name text, "position" integer, state text, task_identifier text, job_id bigint,
                 job_state text, depends_on text[], compensate text, compensation_job_id bigint,
                 compensation_job_state text, result jsonb)
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if not exists (select from @schema@._private_workflows as w where w.id = workflow_steps.workflow_id) then
    raise exception 'no workflow %', coalesce(workflow_steps.workflow_id::text, 'NULL') using errcode = 'P0002';
  end if;
  return query
  select s.name, s.position, s.state, s.task_identifier, s.job_id,
         (select j.state from @schema@._private_jobs as j where j.id = s.job_id),
         s.depends_on, s.compensate, s.compensation_job_id,
         (select j.state from @schema@._private_jobs as j where j.id = s.compensation_job_id),
         s.result
  from @schema@._private_workflow_steps as s
  where s.workflow_id = workflow_steps.workflow_id
  order by s.position;
end;
$$;

-- What the jobs this one depends on returned, by parent id (as text): each
-- parent's result is recorded with its child when the parent completes.
create or replace function @schema@.parent_results(
  job_id bigint
) returns jsonb
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_results jsonb;
begin
  select coalesce(j.parent_results, '{}'::jsonb) into v_results
  from @schema@._private_jobs as j where j.id = parent_results.job_id;
  if not found then
    raise exception 'no job %', coalesce(parent_results.job_id::text, 'NULL') using errcode = 'P0002';
  end if;
  return v_results;
end;
$$;
