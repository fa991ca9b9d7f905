-- What the end of a job with followers (has_followers: blocked jobs depend on
-- it, or it is a workflow's step) changes beyond itself. Jobs without
-- followers never come here: every caller first asks jobs_followers, a look
-- at one page of an index that is empty while nobody uses dependencies.

-- Of these running jobs (held by the caller), those whose followers could be
-- locked too, skipping rows another transaction holds: the blocked jobs that
-- depend on them, and their blocked descendants (a final failure cancels them
-- all), then the rows of their workflows. A worker's outcome never waits for
-- a row an application holds (see _lock_attempts): a job whose followers are
-- held is answered 'busy' and sent again. Two parents of one child ending at
-- once therefore take turns on the child's row, and exactly one of them sees
-- the other's completion and releases it.
create or replace function @schema@._lock_followers(
  job_ids bigint[]
) returns bigint[]
language plpgsql volatile
as $$
declare
  v_locked bigint[];
  v_workflows bigint[];
begin
  with recursive tree(root, id) as (
    select d.parent_id, d.job_id from @schema@._private_job_dependencies as d
    where d.parent_id = any(_lock_followers.job_ids)
    union
    select t.root, d.job_id from tree as t join @schema@._private_job_dependencies as d on d.parent_id = t.id
  ), locked as (
    select j.id from @schema@._private_jobs as j
    where j.id in (select t.id from tree as t)
    order by j.id
    for no key update of j skip locked
  )
  select array(select t.root from tree as t where not t.id in (select l.id from locked as l))
  into v_locked;  -- (the roots with a follower that could not be locked)

  select array_agg(w.id) into v_workflows
  from (select w.id from @schema@._private_workflows as w
        where w.id in (select j.workflow_id from @schema@._private_jobs as j
                       where j.id = any(_lock_followers.job_ids) and j.workflow_id is not null)
        order by w.id
        for no key update of w skip locked) as w;

  return array(select j.id from @schema@._private_jobs as j
               where j.id = any(_lock_followers.job_ids)
                 and not j.id = any(v_locked)
                 and (j.workflow_id is null or j.workflow_id = any(coalesce(v_workflows, '{}')))
               order by j.id);
end;
$$;

-- These jobs reached these states (the caller locked them; their followers
-- are locked too, or are waited for here). Final ones release or cancel the
-- blocked jobs waiting for them, and move their workflows:
--   completed: each child records the result (results->>id, or null) under
--              the parent's id in parent_results; a child whose parents have
--              all completed becomes available (scheduled if its run_at is ahead)
--   failed, cancelled: each blocked child is cancelled with a reason that
--              names the parent, and so, in turn, are its own children
create or replace function @schema@._follow_ends(
  job_ids bigint[],
  states text[],
  results jsonb default null,
  now timestamptz default now()
) returns void
language plpgsql volatile
as $$
declare
  v_ids bigint[];     -- those that ended (a retry or a snooze is no end)
  v_states text[];
  v_released record;
  v_cancel record;
begin
  select array_agg(e.id), array_agg(e.state) into v_ids, v_states
  from unnest(_follow_ends.job_ids, _follow_ends.states) as e(id, state)
  where e.state in ('completed', 'failed', 'cancelled');
  if v_ids is null then
    return;
  end if;
  with ended as (
    select e.id, e.state from unnest(v_ids, v_states) as e(id, state)
  ), edges as (
    delete from @schema@._private_job_dependencies as d using ended as e
    where d.parent_id = e.id
    returning d.job_id, d.parent_id, e.state
  ), per_child as (
    select g.job_id,
           coalesce(jsonb_object_agg(g.parent_id::text, coalesce(_follow_ends.results -> g.parent_id::text,
                                                                 'null'::jsonb))
                      filter (where g.state = 'completed'), '{}'::jsonb) as done,
           min(g.parent_id) filter (where g.state <> 'completed') as bad_parent
    from edges as g group by g.job_id
  ), moved as (
    update @schema@._private_jobs as j set
      parent_results = coalesce(j.parent_results, '{}'::jsonb) || c.done,
      state = case
        when c.bad_parent is not null then j.state  -- cancelled below
        when exists (select from unnest(j.depends_on) as p
                     where not (coalesce(j.parent_results, '{}'::jsonb) || c.done) ? p::text) then j.state
        when j.run_at > _follow_ends.now then 'scheduled'
        else 'available' end,
      cancel_reason = case when c.bad_parent is not null then coalesce(j.cancel_reason,
        format('job %s, which it depends on, %s', c.bad_parent,
               (select case e.state when 'failed' then 'failed' else 'was cancelled' end
                from ended as e where e.id = c.bad_parent))) else j.cancel_reason end,
      updated_at = _follow_ends.now
    from per_child as c
    where j.id = c.job_id and j.state = 'blocked'
    returning j.id, j.state, j.queue_name, c.bad_parent, j.cancel_reason
  )
  select array_agg(m.id) filter (where m.state = 'available') as available,
         array_agg(distinct m.queue_name) filter (where m.state = 'available' and m.queue_name is not null) as queues,
         jsonb_object_agg(m.id::text, m.cancel_reason) filter (where m.bad_parent is not null) as cancels
  into v_released
  from moved as m;

  if v_released.queues is not null then
    perform @schema@._offer_queue_heads(array(select q from unnest(v_released.queues) as q order by q));
  end if;
  if v_released.available is not null then
    perform @schema@._notify_jobs();
  end if;
  -- Their workflows first, then the children cancelled below, so that a
  -- workflow learns which step broke before it learns of the steps that will
  -- not run (the ended jobs' rows may be gone: their steps say whose they were).
  if exists (select from @schema@._private_workflow_steps as s
             where s.job_id = any(v_ids) or s.compensation_job_id = any(v_ids)) then
    perform @schema@._advance_workflows(v_ids, v_states, _follow_ends.results, _follow_ends.now);
  end if;

  -- one reason per failed parent: its children are finished together (and
  -- theirs in turn, through _finish_waiting_jobs)
  for v_cancel in
    select c.value as reason, array_agg(c.key::bigint order by c.key::bigint) as ids
    from jsonb_each_text(v_released.cancels) as c group by c.value order by min(c.key::bigint)
  loop
    perform @schema@._finish_waiting_jobs(v_cancel.ids, 'cancelled', @schema@._cancel_message(v_cancel.reason));
  end loop;
end;
$$;
