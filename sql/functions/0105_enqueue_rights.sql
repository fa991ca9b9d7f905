-- What the calling role may enqueue. A role is restricted when pgrun granted
-- it (or a role it belongs to) enqueue rights and no worker or admin rights:
-- it may add the tasks and queues its grant names (null: any), and it may see
-- and replace only the jobs it added itself (their created_by). Superusers,
-- the schema's owner and roles outside pgrun's grants are not restricted.
create or replace function @schema@._enqueue_rights(
  out restricted boolean,
  out role_name name,
  out tasks text[],
  out queues text[]
)
language plpgsql stable
as $$
begin
  restricted := false;
  role_name := @schema@._invoker();
  if not exists (select from @schema@._private_grants as g where g.kind = 'enqueue') then
    return;
  end if;
  if (select r.rolsuper from pg_roles as r where r.rolname = role_name)
     or pg_has_role(role_name, (select n.nspowner from pg_namespace as n
                                where n.nspname = '@schema_text@'), 'member') then
    return;
  end if;
  if exists (select from @schema@._private_grants as g
             where g.kind in ('worker', 'admin') and pg_has_role(_enqueue_rights.role_name, g.role_name, 'member')) then
    return;
  end if;
  -- an aggregate always answers one row: restricted only if a grant matched
  select count(*) > 0,
         case when bool_or(g.tasks is null) then null else array_agg(distinct t) end,
         case when bool_or(g.queues is null) then null else array_agg(distinct q) end
  into restricted, tasks, queues
  from @schema@._private_grants as g
  left join lateral unnest(g.tasks) as t on true
  left join lateral unnest(g.queues) as q on true
  where g.kind = 'enqueue' and pg_has_role(_enqueue_rights.role_name, g.role_name, 'member');
  restricted := coalesce(restricted, false);
end;
$$;

-- Raises unless a restricted role may add a job of this task to this queue.
create or replace function @schema@._check_enqueue_rights(
  label text,
  restricted boolean,
  role_name name,
  tasks text[],
  queues text[],
  identifier text,
  queue_name text
) returns void
language plpgsql stable
as $$
begin
  if not _check_enqueue_rights.restricted then
    return;
  end if;
  if _check_enqueue_rights.tasks is not null and not _check_enqueue_rights.identifier = any(_check_enqueue_rights.tasks) then
    raise exception '%role % may not enqueue task %', label, _check_enqueue_rights.role_name,
      quote_literal(_check_enqueue_rights.identifier)
      using errcode = '42501', hint = 'pgrun grant enqueue names the tasks a role may add';
  end if;
  if _check_enqueue_rights.queue_name is not null and _check_enqueue_rights.queues is not null
     and not exists (select from unnest(_check_enqueue_rights.queues) as p
                     where _check_enqueue_rights.queue_name = p
                        or (right(p, 1) = '*' and starts_with(_check_enqueue_rights.queue_name, left(p, -1)))) then
    raise exception '%role % may not enqueue into queue %', label, _check_enqueue_rights.role_name,
      quote_literal(_check_enqueue_rights.queue_name)
      using errcode = '42501', hint = 'pgrun grant enqueue --queue names the queues a role may use';
  end if;
end;
$$;
