-- Enqueue many jobs in one statement (Graphile Worker's add_jobs). Keyed
-- specs follow the 'replace' rules of add_job ('preserve_run_at' when
-- job_key_preserve_run_at is true). Returns one row per spec.
create or replace function @schema@.add_jobs(
  specs @schema@.job_spec[],
  job_key_preserve_run_at boolean default false
) returns setof @schema@._private_jobs
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_mode text := case when add_jobs.job_key_preserve_run_at then 'preserve_run_at' else 'replace' end;
  v_spec record;
  v_rows @schema@._private_jobs[];
  v_ords bigint[];
  v_i integer;
begin
  -- Validate set-wise; only a bad spec pays for the per-spec check.
  for v_spec in
    select s.ord, s.identifier, s.queue_name, s.max_attempts, s.job_key, s.priority
    from unnest(add_jobs.specs) with ordinality
      as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, ord)
    where s.identifier is null or length(s.identifier) not between 1 and 128
       or length(s.queue_name) not between 1 and 128
       or length(s.job_key) not between 1 and 512
       or s.max_attempts < 1
    order by s.ord
    limit 1
  loop
    perform @schema@._check_job_spec(format('specs[%s]: ', v_spec.ord), v_spec.identifier,
      v_spec.queue_name, v_spec.max_attempts, v_spec.job_key, v_spec.priority);
  end loop;

  insert into @schema@._private_job_queues (queue_name)
  select distinct s.queue_name from unnest(add_jobs.specs) as s where s.queue_name is not null
  on conflict do nothing;

  -- Without keys there is nothing to merge, detach or lock: one plain insert,
  -- ids in the order of the specs.
  if not exists (select from unnest(add_jobs.specs) as s where s.job_key is not null) then
    return query
    insert into @schema@._private_jobs
      (queue_name, task_identifier, payload, run_at, max_attempts, priority, flags)
    select s.queue_name, s.identifier, coalesce(s.payload, '{}'::json),
           coalesce(s.run_at, now()), coalesce(s.max_attempts, 25), coalesce(s.priority, 0),
           case when s.flags is not null then
             (select jsonb_object_agg(f, true) from unnest(s.flags) as f where f is not null)
           end
    from unnest(add_jobs.specs) as s
    returning *;
    perform @schema@._notify_jobs((select min(coalesce(s.run_at, now())) from unnest(add_jobs.specs) as s));
    return;
  end if;

  -- Lock order, the same in every function here: existing job rows in id
  -- order first; rows for new keys are then written in key order. Locking the
  -- keyed rows now also keeps workers from claiming them halfway through.
  perform from @schema@._private_jobs as j
  where j.key in (select s.job_key from unnest(add_jobs.specs) as s where s.job_key is not null)
  order by j.id
  for update;

  -- The same key twice: each spec must see what the one before it left, as
  -- separate add_job calls would. Specs of one key keep their order; keys
  -- go in key order (see above).
  if exists (
    select from unnest(add_jobs.specs) as s
    where s.job_key is not null group by s.job_key having count(*) > 1
  ) then
    for v_spec in select s.* from unnest(add_jobs.specs) with ordinality
        as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, ord)
      order by s.job_key, s.ord
    loop
      v_rows := v_rows || @schema@.add_job(v_spec.identifier, v_spec.payload, v_spec.queue_name,
        v_spec.run_at, v_spec.max_attempts, v_spec.job_key, v_spec.priority, v_spec.flags, v_mode);
      v_ords := v_ords || v_spec.ord;
    end loop;
    -- Answer in the order of the specs.
    for v_i in select i from generate_subscripts(v_ords, 1) as i order by v_ords[i] loop
      return next v_rows[v_i];
    end loop;
    return;
  end if;

  -- Running or exhausted keyed jobs give up their key (see add_job). Rows are
  -- locked in id order, as every batch function here does, so that two
  -- sessions touching the same jobs cannot deadlock.
  update @schema@._private_jobs as j
  set key = null, attempts = greatest(j.attempts, j.max_attempts), updated_at = now()
  where j.id in (
    select d.id from @schema@._private_jobs as d
    where d.key in (select s.job_key from unnest(add_jobs.specs) as s where s.job_key is not null)
      and (d.locked_at is not null or d.attempts >= d.max_attempts)
    order by d.id
    for update);

  with numbered as (
    -- Ids follow the order of the specs (ties in claim order go by id)...
    select s.*, nextval('@schema@._private_jobs_id_seq') as new_id
    from unnest(add_jobs.specs) as s
  ), written as (
    insert into @schema@._private_jobs
      (id, queue_name, task_identifier, payload, run_at, max_attempts, key, priority, flags)
    select n.new_id, n.queue_name, n.identifier, coalesce(n.payload, '{}'::json),
           coalesce(n.run_at, now()), coalesce(n.max_attempts, 25), n.job_key,
           coalesce(n.priority, 0),
           case when n.flags is not null then
             (select jsonb_object_agg(f, true) from unnest(n.flags) as f where f is not null)
           end
    from numbered as n
    -- ...but rows are written in key order, so two callers with the same keys
    -- lock (or wait on) them in the same order and cannot deadlock.
    order by n.job_key, n.new_id
    on conflict (key) do update set
      queue_name = excluded.queue_name,
      task_identifier = excluded.task_identifier,
      payload = case
        when json_typeof(_private_jobs.payload) = 'array' and json_typeof(excluded.payload) = 'array'
          then (_private_jobs.payload::jsonb || excluded.payload::jsonb)::json
        else excluded.payload
      end,
      run_at = case
        when add_jobs.job_key_preserve_run_at and _private_jobs.attempts = 0 then _private_jobs.run_at
        else excluded.run_at
      end,
      max_attempts = excluded.max_attempts,
      priority = excluded.priority,
      flags = excluded.flags,
      attempts = 0,
      last_error = null,
      errors = null,
      revision = _private_jobs.revision + 1,
      updated_at = now()
    where _private_jobs.locked_at is null
      and _private_jobs.attempts < _private_jobs.max_attempts
    returning *
  )
  select array_agg(written) into v_rows from written;

  return query select * from unnest(v_rows) as r order by r.id;

  -- A keyed job claimed by a worker between the detach and the upsert was
  -- skipped above; add_job settles those one by one, so no spec goes missing.
  for v_spec in
    select s.* from unnest(add_jobs.specs) with ordinality
      as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, ord)
    where s.job_key is not null
      and s.job_key not in (select r.key from unnest(v_rows) as r where r.key is not null)
    order by s.ord
  loop
    return next @schema@.add_job(v_spec.identifier, v_spec.payload, v_spec.queue_name,
      v_spec.run_at, v_spec.max_attempts, v_spec.job_key, v_spec.priority, v_spec.flags, v_mode);
  end loop;

  perform @schema@._notify_jobs((select min(r.run_at) from unnest(v_rows) as r));
end;
$$;

revoke execute on function @schema@.add_jobs(@schema@.job_spec[], boolean) from public;
