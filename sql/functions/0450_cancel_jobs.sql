-- Admin: cancel jobs. A job that waits (scheduled, available, retryable,
-- blocked) ends 'cancelled' at once: it never starts, its key is free again,
-- and retention keeps it (by default until removed). A running job is marked:
-- whatever ends its attempt (its worker's outcome, a give-back, the worker's
-- death) ends it 'cancelled' instead, never retried, and its queue slot is
-- freed only then, so a serial queue never runs two at once. Final jobs are
-- left as they are. A cancel and an outcome both lock the row: whichever
-- commits first decides. Returns the jobs as they now are (a cancelled job
-- that retention does not keep is not returned).
create or replace function @schema@.cancel_jobs(
  job_ids bigint[],
  reason text default null
) returns setof @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_waiting bigint[];
  v_ids bigint[];
  v_workers text[];
begin
  if cancel_jobs.job_ids is null then
    raise exception 'job_ids must not be null' using errcode = '22004';
  end if;
  if char_length(cancel_jobs.reason) > 1000 then
    raise exception 'a cancel reason has at most 1000 characters (got %)', char_length(cancel_jobs.reason)
      using errcode = '22001';
  end if;
  perform @schema@._release_expired_jobs(cancel_jobs.job_ids);
  -- waits for rows other transactions hold; an outcome committed meanwhile is
  -- seen (the row is final or gone, and left out)
  with locked as (
    select j.id, j.state from @schema@._private_jobs as j
    where j.id = any(cancel_jobs.job_ids) and j.state not in ('completed', 'failed', 'cancelled')
    order by j.id for update
  ), marked as (
    update @schema@._private_jobs as j
    set cancel_requested_at = coalesce(j.cancel_requested_at, now()),
        cancel_reason = coalesce(j.cancel_reason, cancel_jobs.reason),
        updated_at = now()
    from locked as l where j.id = l.id
    returning j.id, l.state, j.locked_by
  )
  select array_agg(m.id order by m.id), array_agg(m.id order by m.id) filter (where m.state <> 'running'),
         array_agg(distinct m.locked_by) filter (where m.state = 'running')
  into v_ids, v_waiting, v_workers
  from marked as m;
  -- the workers running them learn it at once (LISTEN "<schema>:cancel", the
  -- payload its worker id, delivered at commit); they also ask every second
  -- while they run jobs (cancel_requests), so a lost notification delays a
  -- stop by a second at most
  perform pg_notify('@schema_text@:cancel', w) from unnest(v_workers) as w order by w;
  if v_waiting is not null then
    perform @schema@._finish_waiting_jobs(v_waiting, 'cancelled', @schema@._cancel_message(cancel_jobs.reason));
  end if;
  perform @schema@._audit('cancel_jobs', cancel_jobs.job_ids::text[],
    jsonb_strip_nulls(jsonb_build_object('reason', cancel_jobs.reason, 'marked', coalesce(v_ids, '{}'))));
  return query select * from @schema@._private_jobs as j where j.id = any(v_ids) order by j.id;
end;
$$;
