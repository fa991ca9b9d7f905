-- Control (schema version 5): paused tasks and the audit log of admin actions.
-- Both are new tables: nothing existing is rewritten or locked.

-- Tasks whose jobs no claim takes (pause_task). Almost always empty: the
-- claim looks here once and does nothing more when it is.
create table @schema@._private_paused_tasks (
  task_identifier  text primary key,
  paused_at        timestamptz not null default now(),
  paused_by        name not null default current_user,
  constraint paused_tasks_task_identifier_length check (length(task_identifier) between 1 and 128)
);

-- Who did what to which jobs, queues, tasks or workers, written by _audit in
-- the transaction of the action itself (an action rolled back leaves no row).
-- maintain() removes rows older than the audit_retention setting.
create table @schema@._private_audit (
  id           bigint generated always as identity primary key,
  at           timestamptz not null default now(),
  role_name    name not null,
  -- the login role, when it differs from role_name (SET ROLE, a pooler's role)
  session_role name,
  application  text,
  action       text not null,
  targets      text[],
  arguments    jsonb,
  constraint audit_action_length check (length(action) between 1 and 64)
);
create index audit_at on @schema@._private_audit (at);

create view @schema@.audit_log as
  select id, at, role_name, session_role, application, action, targets, arguments
  from @schema@._private_audit;

insert into @schema@._private_settings (name, value) values ('audit_retention', '90 days')
on conflict (name) do nothing;

-- The claim's queued side learnt which tasks are paused (a new argument): the
-- function files make the new one.
drop function if exists @schema@._pick_queued_jobs(text[], text[], integer);
