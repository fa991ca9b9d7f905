-- Nudges idle workers (LISTEN "<schema>:jobs") in the caller's transaction.
-- Correctness never depends on it: a worker also polls, and each claim tells
-- it when its next job is due. So it is sent only while some worker's last
-- claim found nothing, and at most once per 2 ms from short transactions (younger
-- than 10 ms): a
-- NOTIFY serialises the commits of every transaction that sends one. A long
-- transaction always sends its own (its commit may come long after the last
-- nudge), and a woken worker looks once more shortly after (docs/internals.md).
create or replace function @schema@._notify_jobs() returns void
language plpgsql volatile
as $$
declare
  v_clock timestamptz := clock_timestamp();
  v_micros bigint := (extract(epoch from v_clock) * 1000000)::bigint;
begin
  if not exists (select from @schema@._private_workers as w where w.idle_since is not null) then
    return;
  end if;
  -- a transaction older than 10 ms always nudges: its commit may come long
  -- after the last nudge, past what the woken workers' second look covers
  if v_clock - now() < interval '10 milliseconds'
     and (select n.last_value from @schema@._private_last_nudge as n) > v_micros - 2000 then
    return;
  end if;
  perform setval('@schema@._private_last_nudge', v_micros);
  perform pg_notify('@schema_text@:jobs', '');
end;
$$;
