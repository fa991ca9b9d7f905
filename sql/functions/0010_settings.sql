-- A setting from _private_settings, as text; `fallback` when it is not set.
create or replace function @schema@._setting(
  name text,
  fallback text default null
) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce((select s.value from @schema@._private_settings as s where s.name = _setting.name),
                  _setting.fallback);
$$;

-- The role on whose behalf a function runs: inside a security definer function
-- current_user is the owner, but SET ROLE (PostgREST, PostGraphile) is still
-- visible in the `role` setting; without it, the session's own role.
create or replace function @schema@._invoker() returns name
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select case when current_setting('role') = 'none' then session_user
              else current_setting('role') end::name;
$$;
