-- Jobs for a viewer (`pgrun jobs`, a dashboard), newest first, filtered by
-- any of: state, task, queue, key (exact), payload text (a case-insensitive
-- substring of the payload's JSON text). Paged by id: pass the last id of a
-- page as before_id for the next one, so every page costs what the first
-- does, however deep. Read-only; security definer, as explain_job.
--
-- Each call is planned for its own filters (EXECUTE): an id-ordered walk of
-- the primary key while matches are common, the state's or key's index when
-- they are rare (jobs_final for final states, jobs_key and jobs_final_key for
-- keys, jobs_running for running jobs). A payload filter alone walks jobs
-- newest first until it has max_rows: cheap when matches are common, a scan of
-- the table when there are none; combine it with another filter on big tables.
create or replace function @schema@.list_jobs(
  state text default null,
  task_identifier text default null,
  queue_name text default null,
  job_key text default null,
  payload_contains text default null,
  before_id bigint default null,
  max_rows integer default 50
) returns setof @schema@._private_jobs
language plpgsql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_where text := '';
begin
  if list_jobs.state is not null and list_jobs.state not in
     ('scheduled', 'available', 'running', 'retryable', 'blocked', 'completed', 'failed', 'cancelled') then
    raise exception 'unknown state % (known: scheduled, available, running, retryable, blocked, completed, failed, cancelled)',
      quote_literal(list_jobs.state)
      using errcode = '22023';
  end if;
  if list_jobs.max_rows is null or list_jobs.max_rows not between 1 and 1000 then
    raise exception 'max_rows must be 1 to 1000 (got %)', coalesce(list_jobs.max_rows::text, 'NULL')
      using errcode = '22023';
  end if;
  if list_jobs.payload_contains = '' then
    raise exception 'payload_contains must not be empty (null: any payload)' using errcode = '22023';
  end if;

  if list_jobs.state is not null then
    v_where := v_where || ' and j.state = $1';
  end if;
  if list_jobs.task_identifier is not null then
    v_where := v_where || ' and j.task_identifier = $2';
  end if;
  if list_jobs.queue_name is not null then
    v_where := v_where || ' and j.queue_name = $3';
  end if;
  if list_jobs.job_key is not null then
    -- a key is unique among live jobs; retained completed and cancelled jobs
    -- may share it: each side through its own partial index
    v_where := v_where || ' and j.id in (select k.id from @schema@._private_jobs as k'
                       || ' where k.key = $4 and k.state not in (''completed'', ''cancelled'')'
                       || ' union all select k.id from @schema@._private_jobs as k'
                       || ' where k.key = $4 and k.state in (''completed'', ''cancelled''))';
  end if;
  if list_jobs.payload_contains is not null then
    v_where := v_where || ' and strpos(lower(j.payload::text), lower($5)) > 0';
  end if;
  if list_jobs.before_id is not null then
    v_where := v_where || ' and j.id < $6';
  end if;
  return query execute
    'select j.* from @schema@._private_jobs as j where true' || v_where || ' order by j.id desc limit $7'
  using list_jobs.state, list_jobs.task_identifier, list_jobs.queue_name, list_jobs.job_key,
        list_jobs.payload_contains, list_jobs.before_id, list_jobs.max_rows;
end;
$$;
