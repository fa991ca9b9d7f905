-- Hint mode of the claim of unqueued jobs (_pick_unqueued_jobs; docs/reliability.md,
-- "Bloat under long transactions"). While something pins the xmin horizon,
-- the jobs_available entries of every job claimed since stay at the head of
-- each task's jobs (no scan can mark them dead while a snapshot may see their
-- rows), and every claim would walk them all. So when scans from the start
-- step over more entries than the setting claim_hint_after_entries (entries
-- read but neither locked nor candidates: dead ones, and rows other claimers
-- hold; counted from the index's statistics, not timed, so that a busy
-- machine's slow scans do not count; with track_counts off nothing is
-- counted), the session remembers, in custom settings (no table writes: under
-- a pinned horizon each would leave a dead row too), when (pgrun.claim_slow_since)
-- and, per task, the key of the last job it claimed (pgrun.claim_hint, a JSON
-- object): every entry before it was claimed by this session, locked by
-- another claimer at that moment, or dead. For claim_hint_refresh after,
-- scans start at the hints; then from the start again (which leaves hint
-- mode when they step over few). So a job added behind a hint (a better
-- priority, an earlier run_at, a job given back) waits at most that long, or
-- none when the hinted scans come back short. Without a dead head no session
-- enters hint mode: the order is strict then. Settings roll back with the
-- transaction, as the claim does.

-- Whether this session is in hint mode and no scan from the start is due.
create or replace function @schema@._claim_hints_due() returns boolean
language plpgsql volatile
as $$
declare
  v_since text := current_setting('pgrun.claim_slow_since', true);
begin
  return v_since ~ '^\d+(\.\d+)?$'
     and extract(epoch from clock_timestamp()) - v_since::numeric
         < extract(epoch from @schema@._setting('claim_hint_refresh', '1 second')::interval);
end;
$$;

-- This session's hints for these tasks, in their order (null: none, or not one of ours).
create or replace function @schema@._claim_hints(
  task_identifiers text[],
  out priorities smallint[],
  out run_ats timestamptz[],
  out ids bigint[]
)
language plpgsql volatile
as $$
begin
  select array_agg((h.hint ->> 0)::smallint order by t.n),
         array_agg(to_timestamp(0) + (h.hint ->> 1)::bigint * interval '1 microsecond' order by t.n),
         array_agg((h.hint ->> 2)::bigint order by t.n)
  into priorities, run_ats, ids
  from unnest(_claim_hints.task_identifiers) with ordinality as t(task_identifier, n)
  cross join lateral (select current_setting('pgrun.claim_hint', true)::jsonb
                               -> ('@schema_text@.' || t.task_identifier) as hint) as h;
exception when others then  -- a setting that is not ours: no hints
  priorities := null; run_ats := null; ids := null;
end;
$$;

-- After scans from the start (stepped: the entries they stepped over; null:
-- none ran), enter hint mode or leave it.
create or replace function @schema@._note_claim_scan(stepped bigint) returns void
language plpgsql volatile
as $$
begin
  if _note_claim_scan.stepped is null then
    return;
  elsif _note_claim_scan.stepped > @schema@._setting('claim_hint_after_entries', '1000')::bigint then
    perform set_config('pgrun.claim_slow_since', extract(epoch from clock_timestamp())::text, false);
  elsif current_setting('pgrun.claim_slow_since', true) > '' then
    perform set_config('pgrun.claim_slow_since', '', false);
  end if;
end;
$$;

-- In hint mode, after a claim: each task's hint becomes the key of the last
-- unqueued job of it claimed (the others' hints stay).
create or replace function @schema@._remember_claim_hints(claimed bigint[]) returns void
language plpgsql volatile
as $$
declare
  v_hints jsonb;
  v_new jsonb;
begin
  select jsonb_object_agg('@schema_text@.' || l.task_identifier,
                          jsonb_build_array(l.priority, (extract(epoch from l.run_at) * 1000000)::bigint, l.id))
  into v_new
  from (select distinct on (j.task_identifier) j.task_identifier, j.priority, j.run_at, j.id
        from @schema@._private_jobs as j
        where j.id = any(_remember_claim_hints.claimed) and j.queue_name is null and isfinite(j.run_at)
        order by j.task_identifier, j.priority desc, j.run_at desc, j.id desc) as l;
  if v_new is null then
    return;
  end if;
  begin
    v_hints := current_setting('pgrun.claim_hint', true)::jsonb;
  exception when others then
    v_hints := null;  -- not ours
  end;
  if jsonb_typeof(v_hints) is distinct from 'object' then
    v_hints := '{}';
  end if;
  perform set_config('pgrun.claim_hint', (v_hints || v_new)::text, false);
end;
$$;
