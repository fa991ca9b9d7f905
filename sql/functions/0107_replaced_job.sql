-- What a pending keyed job becomes when add_job/add_jobs replace it (modes
-- 'replace' and 'preserve_run_at'): the new task, queue, payload, run_at,
-- max_attempts, priority, flags, timeout and meta; attempts and errors reset; revision + 1.
-- Two JSON arrays are appended (batch jobs). One place for these rules, used
-- by both functions' ON CONFLICT.
create or replace function @schema@._replaced_job(
  old @schema@._private_jobs,
  new @schema@._private_jobs,
  preserve_run_at boolean
) returns @schema@._private_jobs
language plpgsql stable
as $$
declare
  v_job @schema@._private_jobs := old;
begin
  v_job.queue_name := new.queue_name;
  v_job.task_identifier := new.task_identifier;
  v_job.payload := case when jsonb_typeof(old.payload) = 'array' and jsonb_typeof(new.payload) = 'array'
                        then old.payload || new.payload else new.payload end;
  v_job.run_at := case when _replaced_job.preserve_run_at and old.attempts = 0 then old.run_at
                       else new.run_at end;
  v_job.max_attempts := new.max_attempts;
  v_job.priority := new.priority;
  v_job.base_priority := null;  -- not aged (0545_priority_aging.sql)
  v_job.flags := new.flags;
  v_job.timeout := new.timeout;
  v_job.meta := new.meta;
  v_job.attempts := 0;
  v_job.last_error := null;
  v_job.errors := null;
  v_job.revision := old.revision + 1;
  v_job.updated_at := now();
  v_job.state := case when v_job.run_at > now() then 'scheduled' else 'available' end;
  return v_job;
end;
$$;
