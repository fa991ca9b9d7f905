-- The audit log's one writer: every admin function calls it once, in its own
-- transaction, with what it did and to what (ids or names as text) and the
-- arguments that shaped it. Who: the role the function runs as, the login
-- role when it differs (SET ROLE, a pooler), and the client's application_name.
create or replace function @schema@._audit(
  action text,
  targets text[],
  arguments jsonb default null
) returns void
language plpgsql volatile
as $$
begin
  insert into @schema@._private_audit (role_name, session_role, application, action, targets, arguments)
  values (current_user, nullif(session_user, current_user),
          nullif(current_setting('application_name', true), ''),
          _audit.action, _audit.targets, nullif(_audit.arguments, '{}'::jsonb));
end;
$$;

-- Audit rows older than the audit_retention setting (default 90 days; a
-- setting of null or '' keeps them all), at most max_rows, oldest first.
-- Run by maintain(). Returns how many.
create or replace function @schema@._prune_audit(
  max_rows integer,
  now timestamptz
) returns integer
language plpgsql volatile
as $$
declare
  v_keep interval := nullif(@schema@._setting('audit_retention', '90 days'), '')::interval;
  v_n integer;
begin
  if v_keep is null then
    return 0;
  end if;
  delete from @schema@._private_audit as a
  where a.id in (select o.id from @schema@._private_audit as o
                 where o.at < _prune_audit.now - v_keep
                 order by o.at limit _prune_audit.max_rows);
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;
