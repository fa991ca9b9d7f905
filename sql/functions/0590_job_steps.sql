-- Durable steps inside one job (helpers.step): what each named step of a job
-- returned, recorded as it completes, so that a later attempt of the same job
-- skips it and gets the recorded result instead.

-- The steps of this job that completed, with what they returned.
create or replace function @schema@.job_steps(
  job_id bigint
) returns table (name text, result jsonb)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select s.name, s.result from @schema@._private_job_steps as s where s.job_id = job_steps.job_id order by s.name;
$$;

-- A worker records that a step of the job it runs completed. Only the
-- attempt that holds the job (this worker, this lease) records; the first
-- record of a name stays. Returns false when the attempt is not this
-- worker's any more (nothing recorded: the job runs elsewhere, or ended).
create or replace function @schema@.record_job_step(
  worker_id text,
  job_id bigint,
  lease bigint,
  name text,
  result jsonb
) returns boolean
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if record_job_step.name is null or length(record_job_step.name) not between 1 and 200 then
    raise exception 'a step name must have 1 to 200 characters' using errcode = '22023';
  end if;
  -- a read, not a lock: an outcome of the same attempt may hold the row
  if not exists (select from @schema@._private_jobs as j
                 where j.id = record_job_step.job_id and j.state = 'running'
                   and j.locked_by = record_job_step.worker_id and j.lease = record_job_step.lease) then
    return false;
  end if;
  insert into @schema@._private_job_steps (job_id, name, result)
  values (record_job_step.job_id, record_job_step.name, coalesce(record_job_step.result, 'null'::jsonb))
  on conflict do nothing;
  return true;
end;
$$;

-- maintain(): the steps of jobs that are gone or final are of no more use.
create or replace function @schema@._forget_job_steps(
  max_rows integer
) returns integer
language plpgsql volatile
as $$
declare
  v_n integer;
begin
  delete from @schema@._private_job_steps as s
  where (s.job_id, s.name) in (
    select x.job_id, x.name from @schema@._private_job_steps as x
    where not exists (select from @schema@._private_jobs as j
                      where j.id = x.job_id and j.state not in ('completed', 'failed', 'cancelled'))
    limit _forget_job_steps.max_rows);
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;
