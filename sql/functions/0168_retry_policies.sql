-- Retry policies: how long a failed job waits before its next attempt.
--   exponential  base * e^least(attempt, 10) seconds (base 1 is Graphile's
--                exp(least(attempts, 10)), the default for a job of a task
--                without a policy)
--   linear       base * attempt seconds
--   fixed        base seconds
-- then at most max_delay seconds (null: no cap), then up to `jitter` of it
-- earlier, at random: delay * (1 - jitter * random), random in [0, 1).
-- `attempt` counts the attempt that just failed (1 for the first failure).
-- `random` is an argument so that tests can fix it.
create or replace function @schema@.retry_delay(
  kind text,
  attempt integer,
  base double precision default 1,
  max_delay double precision default null,
  jitter double precision default 0,
  random double precision default random()
) returns interval
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_seconds double precision;
begin
  perform @schema@._check_retry_policy('', retry_delay.kind, retry_delay.base, retry_delay.max_delay,
                                       retry_delay.jitter);
  if retry_delay.attempt is null or retry_delay.attempt < 1 then
    raise exception 'attempt must be at least 1 (got %)', coalesce(retry_delay.attempt::text, 'NULL')
      using errcode = '22023';
  end if;
  if retry_delay.random is null or retry_delay.random < 0 or retry_delay.random >= 1 then
    raise exception 'random must be in [0, 1) (got %)', coalesce(retry_delay.random::text, 'NULL')
      using errcode = '22023';
  end if;
  v_seconds := case retry_delay.kind
    when 'exponential' then retry_delay.base * exp(least(retry_delay.attempt, 10))
    when 'linear' then retry_delay.base * retry_delay.attempt
    else retry_delay.base
  end;
  v_seconds := least(v_seconds, coalesce(retry_delay.max_delay, v_seconds));
  return v_seconds * (1 - coalesce(retry_delay.jitter, 0) * retry_delay.random) * interval '1 second';
end;
$$;

-- Raises a clear error for a retry policy that cannot be used. `label` says
-- whose policy it is ('' for a task's, 'meta.retry: ' for a job's).
create or replace function @schema@._check_retry_policy(
  label text,
  kind text,
  base double precision,
  max_delay double precision,
  jitter double precision
) returns void
language plpgsql immutable
as $$
begin
  if _check_retry_policy.kind is null
     or _check_retry_policy.kind not in ('exponential', 'linear', 'fixed') then
    raise exception '%invalid retry policy kind %; expected ''exponential'', ''linear'' or ''fixed''',
      _check_retry_policy.label, coalesce(quote_literal(_check_retry_policy.kind), 'NULL')
      using errcode = '22023';
  end if;
  if _check_retry_policy.base is null or not _check_retry_policy.base > 0
     or _check_retry_policy.base = 'infinity' then
    raise exception '%retry policy base must be a positive number of seconds (got %)',
      _check_retry_policy.label, coalesce(_check_retry_policy.base::text, 'NULL') using errcode = '22023';
  end if;
  if not _check_retry_policy.max_delay > 0 then
    raise exception '%retry policy max_delay must be a positive number of seconds or null (got %)',
      _check_retry_policy.label, _check_retry_policy.max_delay using errcode = '22023';
  end if;
  if _check_retry_policy.jitter < 0 or _check_retry_policy.jitter > 1 then
    raise exception '%retry policy jitter must be between 0 and 1 (got %)',
      _check_retry_policy.label, _check_retry_policy.jitter using errcode = '22023';
  end if;
end;
$$;

-- A job's own policy (meta->'retry': {"kind", "base", "max_delay", "jitter"})
-- checked as add_job receives it; a number where text is expected and the
-- like are refused with the key's name.
create or replace function @schema@._check_job_meta(
  label text,
  meta jsonb
) returns void
language plpgsql immutable
as $$
declare
  v_retry jsonb := _check_job_meta.meta -> 'retry';
begin
  if _check_job_meta.meta is null then
    return;
  end if;
  if jsonb_typeof(_check_job_meta.meta) <> 'object' then
    raise exception '%meta must be a JSON object (got %)', _check_job_meta.label,
      jsonb_typeof(_check_job_meta.meta) using errcode = '22023';
  end if;
  if v_retry is null then
    return;
  end if;
  if jsonb_typeof(v_retry) <> 'object'
     or exists (select from jsonb_each(v_retry) as e(k, v)
                where e.k not in ('kind', 'base', 'max_delay', 'jitter')
                   or (e.k = 'kind' and jsonb_typeof(e.v) <> 'string')
                   or (e.k <> 'kind' and jsonb_typeof(e.v) not in ('number', 'null'))) then
    raise exception '%meta.retry must be an object of kind (text), base, max_delay and jitter (numbers); got %',
      _check_job_meta.label, v_retry using errcode = '22023';
  end if;
  perform @schema@._check_retry_policy(_check_job_meta.label || 'meta.retry: ', v_retry ->> 'kind',
    coalesce((v_retry ->> 'base')::double precision, 1), (v_retry ->> 'max_delay')::double precision,
    coalesce((v_retry ->> 'jitter')::double precision, 0));
end;
$$;

-- The wait before a failed job's next attempt by its own policy (meta.retry),
-- else its task's (_private_retry_policies); null when it has neither (the
-- caller then uses the default). `task_policies`: whether any task has one
-- (the caller looks once per batch).
create or replace function @schema@._retry_wait(
  task_identifier text,
  meta jsonb,
  attempts integer,
  task_policies boolean
) returns interval
language plpgsql volatile
as $$
declare
  v_retry jsonb := _retry_wait.meta -> 'retry';
  v_policy @schema@._private_retry_policies;
begin
  if v_retry is not null then
    return @schema@.retry_delay(v_retry ->> 'kind', greatest(_retry_wait.attempts, 1),
      coalesce((v_retry ->> 'base')::double precision, 1), (v_retry ->> 'max_delay')::double precision,
      coalesce((v_retry ->> 'jitter')::double precision, 0));
  end if;
  if not _retry_wait.task_policies then
    return null;
  end if;
  select * into v_policy from @schema@._private_retry_policies as r
  where r.task_identifier = _retry_wait.task_identifier;
  if not found then
    return null;
  end if;
  return @schema@.retry_delay(v_policy.kind, greatest(_retry_wait.attempts, 1), v_policy.base,
                              v_policy.max_delay, v_policy.jitter);
end;
$$;

-- A task's retry policy, for every runner (a job's own meta.retry wins over
-- it). Replaces the task's policy if it has one.
create or replace function @schema@.set_retry_policy(
  task_identifier text,
  kind text,
  base double precision default 1,
  max_delay double precision default null,
  jitter double precision default 0
) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if set_retry_policy.task_identifier is null or set_retry_policy.task_identifier = ''
     or length(set_retry_policy.task_identifier) > 128 then
    raise exception 'task_identifier must be 1 to 128 characters (got %)',
      coalesce(quote_literal(set_retry_policy.task_identifier), 'NULL') using errcode = '22023';
  end if;
  perform @schema@._check_retry_policy('', set_retry_policy.kind, set_retry_policy.base,
                                       set_retry_policy.max_delay, coalesce(set_retry_policy.jitter, 0));
  insert into @schema@._private_retry_policies as r (task_identifier, kind, base, max_delay, jitter)
  values (set_retry_policy.task_identifier, set_retry_policy.kind, set_retry_policy.base,
          set_retry_policy.max_delay, coalesce(set_retry_policy.jitter, 0))
  on conflict on constraint _private_retry_policies_pkey do update
  set kind = excluded.kind, base = excluded.base, max_delay = excluded.max_delay, jitter = excluded.jitter,
      updated_at = now()
  where (r.kind, r.base, r.max_delay, r.jitter) is distinct from
        (excluded.kind, excluded.base, excluded.max_delay, excluded.jitter);
end;
$$;

-- Back to the default backoff for this task; true if it had a policy.
create or replace function @schema@.remove_retry_policy(
  task_identifier text
) returns boolean
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  delete from @schema@._private_retry_policies as r where r.task_identifier = remove_retry_policy.task_identifier;
  return found;
end;
$$;
