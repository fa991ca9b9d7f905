-- Wakes idle workers (LISTEN "<schema>:jobs"), in the caller's transaction.
-- A job due now sends an empty payload: a nudge. A job due later sends its
-- run_at as epoch seconds, so a listener can set a timer instead of polling.
create or replace function @schema@._notify_jobs(
  run_at timestamptz
) returns void
language sql volatile
as $$
  select pg_notify('@schema_text@:jobs',
    case when _notify_jobs.run_at > now() then extract(epoch from _notify_jobs.run_at)::text else '' end);
$$;
