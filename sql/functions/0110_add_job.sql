-- Enqueue one job (Graphile Worker's add_job, same arguments and results).
-- security definer: an enqueue-only role needs EXECUTE on this and nothing else.
create or replace function @schema@.add_job(
  identifier text,
  payload json default null,
  queue_name text default null,
  run_at timestamptz default null,
  max_attempts integer default null,
  job_key text default null,
  priority integer default null,
  flags text[] default null,
  job_key_mode text default 'replace'
) returns @schema@._private_jobs
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_mode text := coalesce(add_job.job_key_mode, 'replace');
  v_flags jsonb := (select jsonb_object_agg(f, true) from unnest(add_job.flags) as f where f is not null);
  v_job @schema@._private_jobs;
begin
  if v_mode not in ('replace', 'preserve_run_at', 'unsafe_dedupe') then
    raise exception 'invalid job_key_mode %; expected ''replace'', ''preserve_run_at'' or ''unsafe_dedupe''',
      quote_literal(v_mode) using errcode = '22023';
  end if;
  perform @schema@._check_job_spec('', add_job.identifier, add_job.queue_name,
    add_job.max_attempts, add_job.job_key, add_job.priority);

  if add_job.queue_name is not null then
    insert into @schema@._private_job_queues (queue_name) values (add_job.queue_name)
    on conflict do nothing;
  end if;

  if add_job.job_key is null then
    insert into @schema@._private_jobs
      (queue_name, task_identifier, payload, run_at, max_attempts, priority, flags)
    values
      (add_job.queue_name, add_job.identifier, coalesce(add_job.payload, '{}'::json),
       coalesce(add_job.run_at, now()), coalesce(add_job.max_attempts, 25),
       coalesce(add_job.priority, 0), v_flags)
    returning * into v_job;

  elsif v_mode = 'unsafe_dedupe' then
    -- Any job holding the key wins, even a running one: only its revision moves.
    insert into @schema@._private_jobs
      (queue_name, task_identifier, payload, run_at, max_attempts, key, priority, flags)
    values
      (add_job.queue_name, add_job.identifier, coalesce(add_job.payload, '{}'::json),
       coalesce(add_job.run_at, now()), coalesce(add_job.max_attempts, 25),
       add_job.job_key, coalesce(add_job.priority, 0), v_flags)
    on conflict (key) do update set
      revision = _private_jobs.revision + 1,
      updated_at = now()
    returning * into v_job;

  else
    -- Loops only while concurrent callers race on the same key: each round
    -- either updates the pending job, or detaches a running/exhausted one and
    -- inserts. ON CONFLICT locks the existing row, so a worker cannot claim it
    -- between our check and our update (the race that makes Graphile return nulls).
    for i in 1..10 loop
      insert into @schema@._private_jobs
        (queue_name, task_identifier, payload, run_at, max_attempts, key, priority, flags)
      values
        (add_job.queue_name, add_job.identifier, coalesce(add_job.payload, '{}'::json),
         coalesce(add_job.run_at, now()), coalesce(add_job.max_attempts, 25),
         add_job.job_key, coalesce(add_job.priority, 0), v_flags)
      on conflict (key) do update set
        queue_name = excluded.queue_name,
        task_identifier = excluded.task_identifier,
        payload = case
          when json_typeof(_private_jobs.payload) = 'array' and json_typeof(excluded.payload) = 'array'
            then (_private_jobs.payload::jsonb || excluded.payload::jsonb)::json
          else excluded.payload
        end,
        run_at = case
          when v_mode = 'preserve_run_at' and _private_jobs.attempts = 0 then _private_jobs.run_at
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
      returning * into v_job;
      exit when found;

      -- The keyed job is running or has used its attempts. It has already
      -- seen the old state of the world, so it gives up its key and will not
      -- retry; a fresh job takes the key.
      update @schema@._private_jobs as j
      set key = null, attempts = greatest(j.attempts, j.max_attempts), updated_at = now()
      where j.key = add_job.job_key
        and (j.locked_at is not null or j.attempts >= j.max_attempts);

      insert into @schema@._private_jobs
        (queue_name, task_identifier, payload, run_at, max_attempts, key, priority, flags)
      values
        (add_job.queue_name, add_job.identifier, coalesce(add_job.payload, '{}'::json),
         coalesce(add_job.run_at, now()), coalesce(add_job.max_attempts, 25),
         add_job.job_key, coalesce(add_job.priority, 0), v_flags)
      on conflict (key) do nothing
      returning * into v_job;
      exit when found;
    end loop;

    if v_job.id is null then
      raise exception 'add_job could not settle job_key % after 10 rounds of concurrent updates', add_job.job_key
        using errcode = '40001';
    end if;
  end if;

  perform @schema@._notify_jobs(v_job.run_at);
  return v_job;
end;
$$;

revoke execute on function @schema@.add_job(text, json, text, timestamptz, integer, text, integer, text[], text) from public;
