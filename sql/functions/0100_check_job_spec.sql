-- Raises a clear error for a job description that add_job/add_jobs must refuse.
-- `label` says which spec is meant ('' for add_job, 'specs[3]: ' for add_jobs).
create or replace function @schema@._check_job_spec(
  label text,
  identifier text,
  queue_name text,
  max_attempts integer,
  job_key text,
  priority integer,
  payload_bytes integer default null,
  payload_max_bytes integer default null
) returns void
language plpgsql immutable
as $$
begin
  if _check_job_spec.identifier is null or length(_check_job_spec.identifier) = 0 then
    raise exception '%task identifier must not be null or empty', label
      using errcode = '22023';
  end if;
  if length(_check_job_spec.identifier) > 128 then
    raise exception '%task identifier is % characters long; the limit is 128', label, length(_check_job_spec.identifier)
      using errcode = '22023';
  end if;
  if length(_check_job_spec.queue_name) = 0 then
    raise exception '%queue name must not be empty (use null for no queue)', label
      using errcode = '22023';
  end if;
  if length(_check_job_spec.queue_name) > 128 then
    raise exception '%queue name is % characters long; the limit is 128', label, length(_check_job_spec.queue_name)
      using errcode = '22023';
  end if;
  if length(_check_job_spec.job_key) = 0 then
    raise exception '%job_key must not be empty (use null for no key)', label
      using errcode = '22023';
  end if;
  if length(_check_job_spec.job_key) > 512 then
    raise exception '%job_key is % characters long; the limit is 512', label, length(_check_job_spec.job_key)
      using errcode = '22023';
  end if;
  if _check_job_spec.max_attempts is not null and _check_job_spec.max_attempts not between 1 and 32767 then
    raise exception '%max_attempts must be between 1 and 32767 (got %)', label, _check_job_spec.max_attempts
      using errcode = '22023';
  end if;
  if _check_job_spec.priority is not null and _check_job_spec.priority not between -32768 and 32767 then
    raise exception '%priority must be between -32768 and 32767 (got %)', label, _check_job_spec.priority
      using errcode = '22023';
  end if;
  if _check_job_spec.payload_bytes > _check_job_spec.payload_max_bytes then
    raise exception '%payload is % bytes; the limit is % (setting payload_max_bytes)', label,
      _check_job_spec.payload_bytes, _check_job_spec.payload_max_bytes
      using errcode = '54000';
  end if;
end;
$$;

-- Raises a clear error for a timeout add_job/add_jobs must refuse: zero or
-- negative (null means no limit).
create or replace function @schema@._check_timeout(
  label text,
  timeout interval
) returns void
language plpgsql immutable
as $$
begin
  if _check_timeout.timeout <= interval '0' then
    raise exception '%timeout must be positive (got %); use null for no limit', label, _check_timeout.timeout
      using errcode = '22023';
  end if;
end;
$$;
