-- Worker: the attempts this worker runs whose cancel was asked (cancel_jobs),
-- with the lease of each and the reason. A worker that runs jobs asks every
-- second, besides listening on "<schema>:cancel": the index
-- jobs_cancel_requested holds only such attempts, so the question costs a
-- page however many jobs run.
create or replace function @schema@.cancel_requests(
  worker_id text
) returns table (job_id bigint, lease bigint, reason text)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  if cancel_requests.worker_id is null then
    raise exception 'worker_id must not be null' using errcode = '22004';
  end if;
  return query
  select j.id, j.lease, j.cancel_reason from @schema@._private_jobs as j
  where j.cancel_requested_at is not null and j.state = 'running'
    and j.locked_by = cancel_requests.worker_id
  order by j.id;
end;
$$;
