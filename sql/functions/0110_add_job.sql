-- Enqueue one job (Graphile Worker's add_job: same arguments and results, and
-- pgrun's own last: timeout, how long one attempt may run, null for no limit;
-- meta, a JSON object for runners beside the payload: "retry" (the job's own
-- retry policy, {"kind", "base", "max_delay", "jitter"}, see retry_delay),
-- "correlation_id", "traceparent" and "tracestate" (the enqueuer's trace);
-- depends_on, the ids of jobs this one waits for: it is 'blocked' until they
-- have all completed (0115_depends_on.sql); not combined with job_key;
-- limit_keys, the keys beyond its queue whose limits it obeys (set_limit).
-- security definer: an enqueue-only role needs EXECUTE on this and nothing
-- else, and learns nothing about jobs it did not add (_enqueue_rights).
create or replace function @schema@.add_job(
  identifier text,
  payload json default null,
  queue_name text default null,
  run_at timestamptz default null,
  max_attempts integer default null,
  job_key text default null,
  priority integer default null,
  flags text[] default null,
  job_key_mode text default 'replace',
  timeout interval default null,
  meta jsonb default null,
  depends_on bigint[] default null,
  limit_keys text[] default null
) returns @schema@._private_jobs
language plpgsql volatile security definer
-- plans made once per session, not per call (docs/internals.md, "Plans")
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
declare
  v_mode text := coalesce(add_job.job_key_mode, 'replace');
  v_run_at timestamptz := coalesce(add_job.run_at, now());
  v_payload jsonb;
  v_rights record;
  v_creator name;
  v_new @schema@._private_jobs;
  v_job @schema@._private_jobs;
  v_holder @schema@._private_jobs;
  v_pending bigint[];
  v_parent_results jsonb;
begin
  if v_mode not in ('replace', 'preserve_run_at', 'unsafe_dedupe') then
    raise exception 'invalid job_key_mode %; expected ''replace'', ''preserve_run_at'' or ''unsafe_dedupe''',
      quote_literal(v_mode) using errcode = '22023';
  end if;
  perform @schema@._check_timeout('', add_job.timeout);
  if add_job.meta is not null then  -- (no call at all for the common job without meta)
    perform @schema@._check_job_meta('', add_job.meta);
  end if;
  perform @schema@._check_limit_keys('', add_job.limit_keys);
  perform @schema@._check_job_spec('', add_job.identifier, add_job.queue_name,
    add_job.max_attempts, add_job.job_key, add_job.priority,
    octet_length(add_job.payload::text), @schema@._setting('payload_max_bytes', '1048576')::integer);
  v_rights := @schema@._enqueue_rights();
  perform @schema@._check_enqueue_rights('', v_rights.restricted, v_rights.role_name, v_rights.tasks,
    v_rights.queues, add_job.identifier, add_job.queue_name);
  v_creator := case when v_rights.restricted then v_rights.role_name end;
  v_payload := coalesce(add_job.payload::jsonb, '{}'::jsonb);
  if cardinality(add_job.depends_on) > 0 then  -- (nothing of this for a job without dependencies)
    if add_job.job_key is not null then
      raise exception 'depends_on cannot be combined with job_key' using errcode = '0A000';
    end if;
    select p.pending, nullif(p.results, '{}') into v_pending, v_parent_results
    from @schema@._parents_of('', add_job.depends_on, v_rights.restricted, v_creator) as p;
  end if;

  if add_job.queue_name is not null then
    perform @schema@._use_queues(array[add_job.queue_name]);
  end if;
  if add_job.limit_keys is not null then
    perform @schema@._use_limit_keys(add_job.limit_keys);
  end if;

  v_new.queue_name := add_job.queue_name;
  v_new.task_identifier := add_job.identifier;
  v_new.payload := v_payload;
  v_new.run_at := v_run_at;
  v_new.max_attempts := coalesce(add_job.max_attempts, 25);
  v_new.key := add_job.job_key;
  v_new.priority := coalesce(add_job.priority, 0);
  v_new.flags := (select jsonb_object_agg(f, true) from unnest(add_job.flags) as f where f is not null);
  v_new.state := case when v_pending is not null then 'blocked'
                      when v_run_at > now() then 'scheduled' else 'available' end;
  v_new.created_by := v_creator;
  v_new.timeout := add_job.timeout;
  v_new.meta := add_job.meta;

  if add_job.job_key is null then
    insert into @schema@._private_jobs
      (queue_name, task_identifier, payload, run_at, max_attempts, priority, flags, state, created_by, timeout, meta,
       depends_on, parent_results)
    values (v_new.queue_name, v_new.task_identifier, v_new.payload, v_new.run_at, v_new.max_attempts,
            v_new.priority, v_new.flags, v_new.state, v_new.created_by, v_new.timeout, v_new.meta,
            nullif(add_job.depends_on, '{}'), v_parent_results)
    returning * into v_job;
    if v_pending is not null then
      perform @schema@._link_parents(array_fill(v_job.id, array[cardinality(v_pending)]), v_pending);
    end if;

  elsif v_mode = 'unsafe_dedupe' then
    -- Any live job holding the key wins, even a running one: only its revision
    -- moves. A restricted role moves nothing of a job it did not add.
    insert into @schema@._private_jobs
      (queue_name, task_identifier, payload, run_at, max_attempts, key, priority, flags, state, created_by,
       timeout, meta)
    values (v_new.queue_name, v_new.task_identifier, v_new.payload, v_new.run_at, v_new.max_attempts,
            v_new.key, v_new.priority, v_new.flags, v_new.state, v_new.created_by, v_new.timeout,
            v_new.meta)
    on conflict (key) where key is not null and state not in ('completed', 'cancelled') do update set
      revision = _private_jobs.revision + 1,
      updated_at = now()
    where not v_rights.restricted or _private_jobs.created_by = v_creator
    returning * into v_job;
    if not found then
      -- blind: the caller's own key, nothing of the job that holds it
      v_job := null;
      v_job.key := add_job.job_key;
      return v_job;
    end if;

  else
    -- Loops only while concurrent callers race on the same key: each round
    -- either updates the pending job, or detaches a running or failed one and
    -- inserts. ON CONFLICT locks the existing row, so a worker cannot claim it
    -- between our check and our update.
    for i in 1..10 loop
      insert into @schema@._private_jobs
        (queue_name, task_identifier, payload, run_at, max_attempts, key, priority, flags, state, created_by,
         timeout, meta)
      values (v_new.queue_name, v_new.task_identifier, v_new.payload, v_new.run_at, v_new.max_attempts,
              v_new.key, v_new.priority, v_new.flags, v_new.state, v_new.created_by, v_new.timeout,
            v_new.meta)
      on conflict (key) where key is not null and state not in ('completed', 'cancelled') do update set
        (queue_name, task_identifier, payload, run_at, max_attempts, priority, flags, attempts,
         last_error, errors, revision, updated_at, state, timeout, meta) =
        (select r.queue_name, r.task_identifier, r.payload, r.run_at, r.max_attempts, r.priority, r.flags,
                r.attempts, r.last_error, r.errors, r.revision, r.updated_at, r.state, r.timeout, r.meta
         from @schema@._replaced_job(_private_jobs, excluded, v_mode = 'preserve_run_at') as r)
      where _private_jobs.state in ('scheduled', 'available', 'retryable')
        and (not v_rights.restricted or _private_jobs.created_by = v_creator)
      returning * into v_job;
      exit when found;

      select * into v_holder from @schema@._private_jobs as j
      where j.key = add_job.job_key and j.state not in ('completed', 'cancelled')
      for update;
      continue when not found;  -- it finished meanwhile: the key is free
      if v_rights.restricted and v_holder.created_by is distinct from v_creator then
        raise exception 'job_key % is held by a job this role did not add', quote_literal(add_job.job_key)
          using errcode = '42501';
      end if;
      continue when v_holder.state in ('scheduled', 'available', 'retryable');
      -- Running or failed: the holder has already seen the old state of the
      -- world, so it gives up its key and will not retry; a fresh job takes the key.
      update @schema@._private_jobs as j
      set key = null, attempts = greatest(j.attempts, j.max_attempts), updated_at = now()
      where j.id = v_holder.id;

      insert into @schema@._private_jobs
        (queue_name, task_identifier, payload, run_at, max_attempts, key, priority, flags, state, created_by,
         timeout, meta)
      values (v_new.queue_name, v_new.task_identifier, v_new.payload, v_new.run_at, v_new.max_attempts,
              v_new.key, v_new.priority, v_new.flags, v_new.state, v_new.created_by, v_new.timeout,
            v_new.meta)
      on conflict (key) where key is not null and state not in ('completed', 'cancelled') do nothing
      returning * into v_job;
      exit when found;
    end loop;

    if v_job.id is null then
      raise exception 'add_job could not settle job_key % after 10 rounds of concurrent updates', add_job.job_key
        using errcode = '40001';
    end if;
  end if;

  -- Limit keys are written after the insert or replace above, which stay as
  -- they are; a deduplicated job keeps its own.
  if (add_job.limit_keys is not null or v_job.limit_keys is not null)
     and not (v_mode = 'unsafe_dedupe' and v_job.revision > 0) then
    update @schema@._private_jobs as j set limit_keys = add_job.limit_keys
    where j.id = v_job.id
    returning * into v_job;
  end if;

  if v_job.state = 'available' and v_job.queue_name is not null then
    perform @schema@._offer_queue_heads(array[v_job.queue_name]);
  end if;
  perform @schema@._notify_jobs();
  return v_job;
end;
$$;
