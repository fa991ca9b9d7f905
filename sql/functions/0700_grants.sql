-- Roles. Nothing in the schema is executable or usable by PUBLIC; these give
-- one of four sets of rights to a role, and remember it so that functions
-- added by later upgrades are granted too (_apply_grants, run by the installer):
--   enqueue  add_job and add_jobs only (optionally of some tasks, into some
--            queues); sees nothing of jobs it did not add (_enqueue_rights)
--   read     the jobs view and the functions that only read
--   worker   what a runner needs: claim, finish, heartbeat, cron, maintenance
--   admin    worker, plus the functions that change or remove jobs
-- Call them as the schema's owner.

-- Which functions each kind of role may execute (by name; every overload).
create or replace function @schema@._granted_functions(
  kind text
) returns setof text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select f from unnest(case _granted_functions.kind
    when 'enqueue' then array['add_job', 'add_jobs']
    when 'read' then array['get_result', 'explain_job', 'job_counts', 'job_throughput', 'list_jobs', 'list_queues', 'list_workers',
      'list_workflows', 'workflow_steps',
      'list_limits', 'priority_aging']
    when 'worker' then array['add_job', 'add_jobs', 'get_result', 'watch_jobs', 'unwatch_jobs',
      'claim_jobs', 'get_job', 'get_jobs', 'complete_attempts', 'fail_attempts', 'return_attempts',
      'complete_job', 'fail_job', 'complete_held_jobs', 'fail_held_jobs', 'return_held_jobs',
      'register_worker', 'heartbeat', 'record_heartbeat', 'reap_workers', 'release_dead_workers',
      'unregister_worker', 'held_attempts', 'maintain', 'prune_jobs', 'cron_register', 'cron_enqueue_tick',
      'cancel_requests', 'snooze_attempts', 'set_retry_policy', 'retry_delay', 'job_counts',
      'job_throughput', 'list_queues', 'list_workers', 'parent_results', 'job_steps', 'record_job_step',
      'start_workflow', 'list_workflows', 'workflow_steps',
      'pause_limit_key', 'list_limits']
    when 'admin' then array['add_job', 'add_jobs', 'get_result', 'watch_jobs', 'unwatch_jobs',
      'claim_jobs', 'get_job', 'get_jobs', 'complete_attempts', 'fail_attempts', 'return_attempts',
      'complete_job', 'fail_job', 'complete_held_jobs', 'fail_held_jobs', 'return_held_jobs',
      'register_worker', 'heartbeat', 'record_heartbeat', 'reap_workers', 'release_dead_workers',
      'unregister_worker', 'held_attempts', 'maintain', 'prune_jobs', 'cron_register', 'cron_enqueue_tick',
      'cancel_requests', 'complete_jobs', 'permanently_fail_jobs', 'reschedule_jobs', 'remove_job', 'remove_jobs',
      'force_unlock_workers', 'set_retention', 'remove_retention', 'cancel_jobs', 'retry_jobs',
      'pause_queue', 'resume_queue', 'pause_task', 'resume_task', 'explain_job', 'snooze_attempts',
      'set_dead_letter', 'remove_dead_letter', 'set_retry_policy', 'remove_retry_policy', 'retry_delay',
      'job_counts', 'job_throughput', 'list_jobs', 'list_queues', 'list_workers', 'parent_results', 'job_steps',
      'record_job_step', 'start_workflow', 'list_workflows', 'workflow_steps',
      'set_limit', 'remove_limit', 'pause_limit_key', 'list_limits', 'set_priority_aging', 'priority_aging']
  end) as f;
$$;

-- Grants what _private_grants records, to every role in it. Idempotent.
create or replace function @schema@._apply_grants() returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_grant record;
  v_function regprocedure;
begin
  for v_grant in select g.role_name, g.kind from @schema@._private_grants as g
                 where exists (select from pg_roles as r where r.rolname = g.role_name)
                 order by g.role_name, g.kind loop
    execute format('grant usage on schema %I to %I', '@schema_text@', v_grant.role_name);
    execute format('grant usage on type %I.job_spec to %I', '@schema_text@', v_grant.role_name);
    for v_function in
      select p.oid::regprocedure from pg_proc as p
      join pg_namespace as n on n.oid = p.pronamespace
      where n.nspname = '@schema_text@'
        and (p.proname in (select f from @schema@._granted_functions(v_grant.kind) as f)
             -- the private helpers those call run with the caller's rights too;
             -- a role that has the tables gains nothing by them (the grant
             -- machinery itself stays the owner's)
             or (v_grant.kind in ('worker', 'admin') and starts_with(p.proname, '_')
                 and p.proname not in ('_apply_grants', '_record_grant', '_secure', '_granted_functions')))
    loop
      execute format('grant execute on function %s to %I', v_function, v_grant.role_name);
    end loop;
    if v_grant.kind in ('read', 'worker', 'admin') then
      execute format('grant select on %I.jobs to %I', '@schema_text@', v_grant.role_name);
    end if;
    if v_grant.kind in ('read', 'admin') then
      execute format('grant select on %I.audit_log to %I', '@schema_text@', v_grant.role_name);
    end if;
    if v_grant.kind in ('worker', 'admin') then
      -- runners' functions run with the caller's rights (only add_job and
      -- add_jobs are security definer), so they need the tables
      execute format('grant select, insert, update, delete on all tables in schema %I to %I',
                     '@schema_text@', v_grant.role_name);
      execute format('grant usage, select, update on all sequences in schema %I to %I',
                     '@schema_text@', v_grant.role_name);
    end if;
  end loop;
end;
$$;

-- Records a grant and applies it.
create or replace function @schema@._record_grant(
  role_name name,
  kind text,
  tasks text[],
  queues text[]
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if not exists (select from pg_roles as r where r.rolname = _record_grant.role_name) then
    raise exception 'role % does not exist', quote_ident(_record_grant.role_name) using errcode = '42704';
  end if;
  if exists (select from unnest(_record_grant.tasks) as t where t is null or length(t) not between 1 and 128) then
    raise exception 'task identifiers must be 1 to 128 characters (got %)', _record_grant.tasks
      using errcode = '22023';
  end if;
  if exists (select from unnest(_record_grant.queues) as q where q is null or length(q) not between 1 and 128) then
    raise exception 'queue names must be 1 to 128 characters (got %)', _record_grant.queues
      using errcode = '22023';
  end if;
  insert into @schema@._private_grants as g (role_name, kind, tasks, queues)
  values (_record_grant.role_name, _record_grant.kind, _record_grant.tasks, _record_grant.queues)
  on conflict on constraint _private_grants_pkey do update set tasks = excluded.tasks, queues = excluded.queues;
  perform @schema@._apply_grants();
end;
$$;

-- Makes role_name an enqueue-only role: it may call add_job and add_jobs,
-- for these tasks and queues only if given (a queue pattern may end in *).
create or replace function @schema@.grant_enqueue(
  role_name name,
  tasks text[] default null,
  queues text[] default null
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  perform @schema@._record_grant(grant_enqueue.role_name, 'enqueue', grant_enqueue.tasks, grant_enqueue.queues);
end;
$$;

create or replace function @schema@.grant_worker(role_name name) returns void
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select @schema@._record_grant(grant_worker.role_name, 'worker', null, null); $$;

create or replace function @schema@.grant_admin(role_name name) returns void
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select @schema@._record_grant(grant_admin.role_name, 'admin', null, null); $$;

create or replace function @schema@.grant_read(role_name name) returns void
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select @schema@._record_grant(grant_read.role_name, 'read', null, null); $$;

-- Takes back every right pgrun gave role_name (in this schema).
create or replace function @schema@.revoke_all(role_name name) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  delete from @schema@._private_grants as g where g.role_name = revoke_all.role_name;
  if exists (select from pg_roles as r where r.rolname = revoke_all.role_name) then
    execute format('revoke all on all functions in schema %I from %I', '@schema_text@', revoke_all.role_name);
    execute format('revoke all on all tables in schema %I from %I', '@schema_text@', revoke_all.role_name);
    execute format('revoke all on all sequences in schema %I from %I', '@schema_text@', revoke_all.role_name);
    execute format('revoke all on type %I.job_spec from %I', '@schema_text@', revoke_all.role_name);
    execute format('revoke all on schema %I from %I', '@schema_text@', revoke_all.role_name);
  end if;
end;
$$;

-- Run by the installer after every install or upgrade: PUBLIC gets nothing,
-- recorded roles get their rights again (functions may have been added).
create or replace function @schema@._secure() returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  execute format('revoke all on all functions in schema %I from public', '@schema_text@');
  execute format('revoke all on type %I.job_spec from public', '@schema_text@');
  execute format('revoke all on schema %I from public', '@schema_text@');
  perform @schema@._apply_grants();
end;
$$;
