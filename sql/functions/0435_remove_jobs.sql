-- Admin (pgrun's): jobs that are not running leave the table now, whatever
-- their state: waiting, blocked, failed, cancelled, or completed and kept by
-- retention. complete_jobs (Graphile's way to remove a job) cannot do that:
-- it ends waiting and failed jobs completed, and leaves completed and
-- cancelled ones alone. This is what `pgrun jobs remove` and the dashboard's
-- Remove do. A running job is left alone: cancel it first. A removed job
-- that had not ended cancels the jobs blocked on it, as remove_job does.
-- Returns the removed jobs as they were.
create or replace function @schema@.remove_jobs(
  job_ids bigint[]
) returns setof @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_jobs @schema@._private_jobs[];
  v_unended bigint[];
begin
  if remove_jobs.job_ids is null then
    raise exception 'job_ids must not be null' using errcode = '22004';
  end if;
  perform @schema@._release_expired_jobs(remove_jobs.job_ids);
  with doomed as (
    select j.id from @schema@._private_jobs as j
    where j.id = any(remove_jobs.job_ids) and j.state <> 'running'
    order by j.id for update
  ), removed as (
    delete from @schema@._private_jobs as j using doomed as d
    where j.id = d.id and j.state <> 'running'
    returning j.*
  )
  select array_agg(r order by r.id) into v_jobs from removed as r;
  select array_agg((j).id) into v_unended from unnest(v_jobs) as j
  where (j).has_followers and (j).state not in ('completed', 'failed', 'cancelled');
  if v_unended is not null then  -- jobs blocked on them would wait forever: a removal is a cancel for them
    perform @schema@._follow_ends(v_unended, array_fill('cancelled'::text, array[cardinality(v_unended)]));
  end if;
  perform @schema@._audit('remove_jobs', remove_jobs.job_ids::text[],
    jsonb_build_object('removed', coalesce(array(select (j).id from unnest(v_jobs) as j), '{}')));
  return query select * from unnest(v_jobs);
end;
$$;
