-- Admin: failed and cancelled jobs run again now (a redrive): attempts back
-- to 0, state available, the end and the cancel request forgotten; errors
-- and last_error are kept, so the history shows what happened before. Ids of
-- jobs in other states (or of no job) are left out. Returns the retried jobs.
-- A cancelled job gave up its key (jobs_key covers live and failed jobs
-- only): if another job holds that key now, nothing is retried and the error
-- names both jobs; remove or cancel the other one first, or leave this one.
create or replace function @schema@.retry_jobs(
  job_ids bigint[]
) returns setof @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[];
  v_clash record;
begin
  if retry_jobs.job_ids is null then
    raise exception 'job_ids must not be null' using errcode = '22004';
  end if;
  select array_agg(j.id order by j.id) into v_ids
  from (select j.id from @schema@._private_jobs as j
        where j.id = any(retry_jobs.job_ids) and j.state in ('failed', 'cancelled')
        order by j.id for update) as j;

  select r.id, r.key, o.id as other_id into v_clash
  from @schema@._private_jobs as r
  join @schema@._private_jobs as o on o.key = r.key and o.id <> r.id
  where r.id = any(v_ids) and r.state = 'cancelled'
    and (o.state not in ('completed', 'cancelled') or o.id = any(v_ids))
  order by r.id, o.id limit 1;
  if found then
    raise exception 'job % cannot be retried: its key % now belongs to job %', v_clash.id,
      quote_literal(v_clash.key), v_clash.other_id
      using errcode = '23505', hint = 'Remove or cancel job ' || v_clash.other_id || ' first.';
  end if;

  if v_ids is not null then
    update @schema@._private_jobs as j
    set state = 'available', attempts = 0, run_at = now(), finished_at = null, keep_until = null,
        priority = coalesce(j.base_priority, j.priority), base_priority = null,
        cancel_requested_at = null, cancel_reason = null, updated_at = now()
    where j.id = any(v_ids);
    perform @schema@._use_queues(array(
      select j.queue_name from @schema@._private_jobs as j where j.id = any(v_ids)));
    perform @schema@._offer_queue_heads(array(
      select distinct j.queue_name from @schema@._private_jobs as j
      where j.id = any(v_ids) and j.queue_name is not null order by 1));
    perform @schema@._notify_jobs();
  end if;
  perform @schema@._audit('retry_jobs', retry_jobs.job_ids::text[],
                          jsonb_build_object('retried', coalesce(v_ids, '{}')));
  return query select * from @schema@._private_jobs as j where j.id = any(v_ids) order by j.id;
end;
$$;
