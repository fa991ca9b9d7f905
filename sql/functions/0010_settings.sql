-- A setting from _private_settings, as text; `fallback` when it is not set.
-- The small helpers here and in the enqueue path have no search_path of their
-- own: they run inside functions that set it (add_job, add_jobs), a SET clause
-- costs every call, and PL/pgSQL keeps their plans between calls.
create or replace function @schema@._setting(
  name text,
  fallback text default null
) returns text
language plpgsql stable
as $$
begin
  return coalesce((select s.value from @schema@._private_settings as s where s.name = _setting.name),
                  _setting.fallback);
end;
$$;

-- The role on whose behalf a function runs: inside a security definer function
-- current_user is the owner, but SET ROLE (PostgREST, PostGraphile) is still
-- visible in the `role` setting; without it, the session's own role.
create or replace function @schema@._invoker() returns name
language sql stable
as $$
  select case when current_setting('role') = 'none' then session_user
              else current_setting('role') end::name;
$$;
