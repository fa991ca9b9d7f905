-- Enqueue many jobs in one statement (Graphile Worker's add_jobs). Keyed
-- specs follow the 'replace' rules of add_job ('preserve_run_at' when
-- job_key_preserve_run_at is true). Returns one row per spec, in the order of
-- the specs. Specs with depends_on make a graph (_add_job_graph): there -k
-- names the job of spec k of the same call.
create or replace function @schema@.add_jobs(
  specs @schema@.job_spec[],
  job_key_preserve_run_at boolean default false
) returns setof @schema@._private_jobs
language plpgsql volatile security definer
-- plans made once per session, not per call (docs/internals.md, "Plans")
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
declare
  v_mode text := case when add_jobs.job_key_preserve_run_at then 'preserve_run_at' else 'replace' end;
  v_max_bytes integer := @schema@._setting('payload_max_bytes', '1048576')::integer;
  v_rights record;
  v_spec record;
  v_rows @schema@._private_jobs[];
  v_ords bigint[];
begin
  -- Validate set-wise; only a bad spec pays for the per-spec check.
  for v_spec in
    select s.ord, s.identifier, s.queue_name, s.max_attempts, s.job_key, s.priority,
           octet_length(s.payload::text) as payload_bytes
    from unnest(add_jobs.specs) with ordinality
      as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
    where s.identifier is null or length(s.identifier) not between 1 and 128
       or length(s.queue_name) not between 1 and 128
       or length(s.job_key) not between 1 and 512
       or s.max_attempts < 1
       or octet_length(s.payload::text) > v_max_bytes
    order by s.ord
    limit 1
  loop
    perform @schema@._check_job_spec(format('specs[%s]: ', v_spec.ord), v_spec.identifier,
      v_spec.queue_name, v_spec.max_attempts, v_spec.job_key, v_spec.priority,
      v_spec.payload_bytes, v_max_bytes);
  end loop;
  -- limit keys (0097_limits.sql): checked only when some spec has them
  if exists (select from unnest(add_jobs.specs) as s where s.limit_keys is not null) then
    perform @schema@._check_limit_keys(format('specs[%s]: ', s.ord), s.limit_keys)
    from unnest(add_jobs.specs) with ordinality
      as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
    where s.limit_keys is not null;
    perform @schema@._use_limit_keys(array(select k from unnest(add_jobs.specs) as s
                                           cross join unnest(s.limit_keys) as k));
  end if;

  -- A restricted role goes spec by spec through add_job, which applies its
  -- rights to each (tasks, queues, keys of jobs it did not add).
  v_rights := @schema@._enqueue_rights();
  if v_rights.restricted then
    return query
    select j.*
    from unnest(add_jobs.specs) with ordinality
      as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
    cross join lateral @schema@.add_job(s.identifier, s.payload, s.queue_name, s.run_at, s.max_attempts,
                                        s.job_key, s.priority, s.flags, v_mode,
                                        depends_on => @schema@._no_spec_references(s.depends_on),
                                        limit_keys => s.limit_keys) as j
    order by s.ord;
    return;
  end if;

  perform @schema@._use_queues(array(select s.queue_name from unnest(add_jobs.specs) as s));

  if exists (select from unnest(add_jobs.specs) as s where cardinality(s.depends_on) > 0) then
    v_rows := @schema@._add_job_graph(add_jobs.specs);  -- (then queue heads and NOTIFY below)

  elsif not exists (select from unnest(add_jobs.specs) as s where s.job_key is not null) then
    -- Nothing to merge, detach or lock: one plain insert, ids (and the rows
    -- returned) in spec order.
    return query
    insert into @schema@._private_jobs
      (queue_name, task_identifier, payload, run_at, max_attempts, priority, flags, state, limit_keys)
    select s.queue_name, s.identifier, coalesce(s.payload::jsonb, '{}'::jsonb),
           coalesce(s.run_at, now()), coalesce(s.max_attempts, 25), coalesce(s.priority, 0),
           case when s.flags is not null then
             (select jsonb_object_agg(f, true) from unnest(s.flags) as f where f is not null)
           end,
           case when s.run_at > now() then 'scheduled' else 'available' end, s.limit_keys
    from unnest(add_jobs.specs) with ordinality
      as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
    order by s.ord
    returning *;
    perform @schema@._offer_queue_heads(array(
      select distinct s.queue_name from unnest(add_jobs.specs) as s
      where s.queue_name is not null and coalesce(s.run_at, now()) <= now() order by 1));
    perform @schema@._notify_jobs();
    return;

  elsif exists (select from unnest(add_jobs.specs) as s
                where s.job_key is not null group by s.job_key having count(*) > 1) then
    -- The same key twice: each spec must see what the one before it left, as
    -- separate add_job calls would. One key's specs keep their order; keys go
    -- in key order, as everywhere here, so two callers cannot deadlock.
    for v_spec in select s.* from unnest(add_jobs.specs) with ordinality
        as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
      order by s.job_key, s.ord
    loop
      v_rows := v_rows || @schema@.add_job(v_spec.identifier, v_spec.payload, v_spec.queue_name,
        v_spec.run_at, v_spec.max_attempts, v_spec.job_key, v_spec.priority, v_spec.flags, v_mode,
        limit_keys => v_spec.limit_keys);
      v_ords := v_ords || v_spec.ord;
    end loop;
    perform @schema@._notify_jobs();
    -- answer in the order of the specs
    return query select (v_rows[i]).* from generate_subscripts(v_ords, 1) as i order by v_ords[i];
    return;

  else
    v_rows := @schema@._add_keyed_jobs(add_jobs.specs, v_mode);
  end if;

  perform @schema@._offer_queue_heads(array(
    select distinct r.queue_name from unnest(v_rows) as r
    where r.state = 'available' and r.queue_name is not null order by 1));
  perform @schema@._notify_jobs();
  return query select r.* from unnest(v_rows) as r;
end;
$$;

-- add_jobs' path for specs with distinct keys: upserts set-wise and answers
-- one row per spec, in the order of the specs.
create or replace function @schema@._add_keyed_jobs(
  specs @schema@.job_spec[],
  mode text
) returns @schema@._private_jobs[]
language plpgsql volatile
as $$
declare
  v_rows @schema@._private_jobs[];
  v_new_ids bigint[];
  v_spec_of_id jsonb;
  v_spec_of_key jsonb;
  v_written_keys jsonb;
  v_missing record;
begin
  -- Lock order, the same in every function here: existing job rows in id
  -- order first; rows for new keys are then written in key order. Locking the
  -- keyed rows now also keeps workers from claiming them halfway through.
  perform from @schema@._private_jobs as j
  where j.key in (select s.job_key from unnest(_add_keyed_jobs.specs) as s where s.job_key is not null)
    and j.state not in ('completed', 'cancelled')
  order by j.id
  for update;

  -- Running or failed holders give up their key (see add_job).
  update @schema@._private_jobs as j
  set key = null, attempts = greatest(j.attempts, j.max_attempts), updated_at = now()
  where j.key in (select s.job_key from unnest(_add_keyed_jobs.specs) as s where s.job_key is not null)
    and j.state in ('running', 'failed');

  -- Ids in spec order; answers are put back in spec order through JSON maps
  -- (id -> spec, key -> spec), never by joining arrays (see _end_attempts).
  v_new_ids := array(select nextval('@schema@._private_jobs_id_seq')
                     from generate_series(1, cardinality(_add_keyed_jobs.specs)));
  v_spec_of_id := jsonb_object(v_new_ids::text[],
                               array(select generate_series(1, cardinality(_add_keyed_jobs.specs)))::text[]);
  select jsonb_object_agg(s.job_key, s.ord) into v_spec_of_key
  from unnest(_add_keyed_jobs.specs) with ordinality
    as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
  where s.job_key is not null;

  with written as (
    insert into @schema@._private_jobs as j
      (id, queue_name, task_identifier, payload, run_at, max_attempts, key, priority, flags, state, limit_keys)
    select v_new_ids[n.ord], n.queue_name, n.identifier, coalesce(n.payload::jsonb, '{}'::jsonb),
           coalesce(n.run_at, now()), coalesce(n.max_attempts, 25), n.job_key, coalesce(n.priority, 0),
           case when n.flags is not null then
             (select jsonb_object_agg(f, true) from unnest(n.flags) as f where f is not null)
           end,
           case when n.run_at > now() then 'scheduled' else 'available' end, n.limit_keys
    from unnest(_add_keyed_jobs.specs) with ordinality
      as n(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
    -- rows go in key order, so two callers with the same keys lock (or wait
    -- on) them in the same order and cannot deadlock
    order by n.job_key, n.ord
    on conflict (key) where key is not null and state not in ('completed', 'cancelled') do update set
      (queue_name, task_identifier, payload, run_at, max_attempts, priority, flags, attempts,
       last_error, errors, revision, updated_at, state) =
      (select r.queue_name, r.task_identifier, r.payload, r.run_at, r.max_attempts, r.priority, r.flags,
              r.attempts, r.last_error, r.errors, r.revision, r.updated_at, r.state
       from @schema@._replaced_job(j, excluded, _add_keyed_jobs.mode = 'preserve_run_at') as r),
      limit_keys = excluded.limit_keys
    where j.state in ('scheduled', 'available', 'retryable')
    returning j.*
  )
  select array_agg(w order by coalesce((v_spec_of_id ->> w.id::text)::integer, (v_spec_of_key ->> w.key)::integer)),
         jsonb_object_agg(w.key, true) filter (where w.key is not null)
  into v_rows, v_written_keys
  from written as w;

  -- A keyed job a worker claimed between the detach and the upsert was
  -- skipped above; add_job settles those one by one, so no spec goes missing.
  for v_missing in
    select s.ord, s.* from unnest(_add_keyed_jobs.specs) with ordinality
      as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
    where s.job_key is not null and not coalesce(v_written_keys ? s.job_key, false)
    order by s.ord
  loop
    v_rows := v_rows[:v_missing.ord - 1]
      || @schema@.add_job(v_missing.identifier, v_missing.payload, v_missing.queue_name,
           v_missing.run_at, v_missing.max_attempts, v_missing.job_key, v_missing.priority,
           v_missing.flags, _add_keyed_jobs.mode, limit_keys => v_missing.limit_keys)
      || v_rows[v_missing.ord:];
  end loop;
  return v_rows;
end;
$$;

revoke execute on function @schema@.add_jobs(@schema@.job_spec[], boolean) from public;

-- A restricted enqueue role adds spec by spec (add_job), so its specs cannot
-- name one another: refuses -k references, passes job ids through.
create or replace function @schema@._no_spec_references(
  depends_on bigint[]
) returns bigint[]
language plpgsql immutable
as $$
begin
  if exists (select from unnest(_no_spec_references.depends_on) as d where d < 0) then
    raise exception 'a role with a restricted enqueue grant cannot name other specs in depends_on; '
      'add the parents first and pass their ids' using errcode = '0A000';
  end if;
  return _no_spec_references.depends_on;
end;
$$;
