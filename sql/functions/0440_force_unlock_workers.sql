-- Admin (Graphile Worker's force_unlock_workers): release everything these
-- workers hold, at once (they are known to be gone). Attempts already counted
-- stay counted. A pgrun worker among them that is in fact alive learns it:
-- its row is marked reaped, so its next beat or claim is refused.
create or replace function @schema@.force_unlock_workers(
  worker_ids text[]
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[];
begin
  update @schema@._private_workers as w set reaped_at = now(), reaped_by = null, idle_since = null
  where w.worker_id = any(force_unlock_workers.worker_ids) and w.reaped_at is null;
  perform @schema@._audit('force_unlock_workers', force_unlock_workers.worker_ids);

  select array_agg(j.id order by j.id) into v_ids
  from (select j.id from @schema@._private_jobs as j
        where j.state = 'running' and j.locked_by = any(force_unlock_workers.worker_ids)
        order by j.id for update of j) as j;
  if v_ids is null then
    return;
  end if;
  perform from @schema@._private_job_queues as q
  where q.queue_name in (select j.queue_name from @schema@._private_jobs as j where j.id = any(v_ids))
  order by q.queue_name for no key update of q;
  perform @schema@._end_attempts(v_ids, 'released',
    (select jsonb_object_agg(j.id::text, format('worker %s was force-unlocked by an admin', j.locked_by))
     from @schema@._private_jobs as j where j.id = any(v_ids)));
end;
$$;
