-- Housekeeping any worker runs every few seconds, once across instances (an
-- advisory lock; whoever does not get it returns at once). Each part works in
-- bounded batches so a call stays short however much there is to do:
--   promote due scheduled and retryable jobs of every task (claims promote
--     only their own tasks'),
--   release locks older than job_expiry of workers that never registered,
--   end attempts past their job's timeout and the grace (_time_out_attempts),
--   age the priority of waiting jobs, when priority aging is on (_age_priorities),
--   remove final jobs whose retention ended,
--   forget reaped workers that hold nothing any more, an hour later,
--   remove audit rows older than the audit_retention setting,
--   remove outcome rollups past their retention and count the jobs again when
--     the last count is old (queue statistics, not reported),
--   drop queue rows nobody uses (no jobs, default settings), and bring the
--     listings of paused and full queues up to date.
-- Returns what it did, one row per part that did something.
create or replace function @schema@.maintain(
  max_rows integer default 1000,
  job_expiry interval default interval '4 hours',
  now timestamptz default now()
) returns table (task text, rows integer)
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_n integer;
  v_batch integer;
  v_started timestamptz;
  v_queues text[];
begin
  if not pg_try_advisory_xact_lock(hashtext('@schema_text@'), 1) then
    return;
  end if;

  v_n := @schema@._promote_due_jobs(null, maintain.now, maintain.max_rows);
  if v_n > 0 then task := 'promoted'; rows := v_n; return next; end if;

  v_n := @schema@._release_expired_locks(maintain.job_expiry, maintain.now);
  if v_n > 0 then task := 'expired locks released'; rows := v_n; return next; end if;

  v_n := @schema@._time_out_attempts(maintain.now, maintain.max_rows);
  if v_n > 0 then task := 'timed out attempts ended'; rows := v_n; return next; end if;

  -- priority aging, when set_priority_aging turned it on (0545_priority_aging.sql)
  v_n := @schema@._age_priorities(maintain.now, maintain.max_rows);
  if v_n > 0 then task := 'priorities aged'; rows := v_n; return next; end if;

  -- prune in batches until a batch comes back short or a second has passed,
  -- so that pruning keeps up with busy tasks
  v_n := 0;
  v_started := clock_timestamp();
  loop
    v_batch := @schema@.prune_jobs(maintain.max_rows, maintain.now);
    v_n := v_n + v_batch;
    exit when v_batch < maintain.max_rows or clock_timestamp() - v_started > interval '1 second';
  end loop;
  if v_n > 0 then task := 'pruned'; rows := v_n; return next; end if;

  delete from @schema@._private_workers as w
  where w.reaped_at < maintain.now - interval '1 hour'
    and not exists (select from @schema@._private_jobs as j where j.state = 'running' and j.locked_by = w.worker_id);
  get diagnostics v_n = row_count;
  if v_n > 0 then task := 'reaped workers forgotten'; rows := v_n; return next; end if;

  v_n := @schema@._prune_audit(maintain.max_rows, maintain.now);
  if v_n > 0 then task := 'audit pruned'; rows := v_n; return next; end if;

  -- durable steps of jobs that ended (0590_job_steps.sql)
  v_n := @schema@._forget_job_steps(maintain.max_rows);
  if v_n > 0 then task := 'job steps forgotten'; rows := v_n; return next; end if;

  -- waiters that went away without saying so
  delete from @schema@._private_job_waiters as w where w.since < maintain.now - interval '1 day';

  -- outcome rollups past their retention (0490_job_stats.sql), not reported
  perform @schema@._prune_outcome_minutes(maintain.now);

  -- Unused queue rows: locked first (an adder holds a key-share lock on its
  -- queue's row until it commits, see _use_queues), then checked on a
  -- snapshot from after the locks.
  select array_agg(q.queue_name) into v_queues
  from (select q.queue_name from @schema@._private_job_queues as q
        where q.running = 0 and q.max_running = 1 and not q.paused
          -- a limit key's row, a rate's window and a pause are flow-control state
          and not q.limit_only and q.max_per_period is null
          and (q.paused_until is null or q.paused_until < maintain.now)
          and q.created_at < maintain.now - interval '1 minute'
          and not exists (select from @schema@._private_jobs as j where j.queue_name = q.queue_name)
        limit maintain.max_rows
        for update skip locked) as q;
  delete from @schema@._private_job_queues as q
  where q.queue_name = any(v_queues)
    and not exists (select from @schema@._private_jobs as j where j.queue_name = q.queue_name)
    and not exists (select from @schema@._private_queue_heads as h where h.queue_name = q.queue_name);
  get diagnostics v_n = row_count;
  if v_n > 0 then task := 'unused queues dropped'; rows := v_n; return next; end if;

  -- Listings of paused and full queues, refreshed with their queue rows locked
  -- (skipping those a claim or an outcome holds), as a claim does: a queue
  -- seen full here may be getting room from an outcome in flight whose offer
  -- saw neither a job added meanwhile nor that adder's row; removing that row
  -- on the strength of the old counter would leave the queue unlisted.
  select array_agg(q.queue_name order by q.queue_name) into v_queues
  from (select q.queue_name from @schema@._private_job_queues as q
        where q.queue_name in (
            select h.queue_name from @schema@._private_queue_heads as h
            join @schema@._private_job_queues as f on f.queue_name = h.queue_name
            where f.paused or f.running >= f.max_running)
        order by q.queue_name
        for no key update of q skip locked) as q;
  if v_queues is not null then
    perform @schema@._refresh_queue_heads(v_queues);
  end if;

  -- Queues that can give a job but are not listed (max_running raised or a
  -- queue resumed by hand) are listed again.
  select array_agg(q.queue_name order by q.queue_name) into v_queues
  from (select q.queue_name from @schema@._private_job_queues as q
        where not q.paused and q.running < q.max_running
          and not exists (select from @schema@._private_queue_heads as h where h.queue_name = q.queue_name)
          and exists (select from @schema@._private_jobs as j
                      where j.queue_name = q.queue_name and j.state = 'available')
        limit maintain.max_rows) as q;
  if v_queues is not null then
    perform @schema@._offer_queue_heads(v_queues);
    task := 'queues listed again'; rows := cardinality(v_queues); return next;
  end if;

  -- a new count of jobs for the statistics when the last one is old (last: a
  -- scan of the table; see _refresh_job_counts), not reported
  perform @schema@._refresh_job_counts(maintain.now);

  -- for the runner, which vacuums the jobs table when this grows (VACUUM cannot
  -- run in a function)
  task := 'dead job rows';
  rows := (select s.n_dead_tup from pg_stat_user_tables as s
           where s.relid = '@schema@._private_jobs'::regclass);
  return next;
end;
$$;

-- Removes up to max_rows final jobs whose retention has ended, oldest first.
-- Returns how many.
create or replace function @schema@.prune_jobs(
  max_rows integer default 1000,
  now timestamptz default now()
) returns integer
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_n integer;
begin
  delete from @schema@._private_jobs as j
  where j.id in (select e.id from @schema@._private_jobs as e
                 where e.keep_until < prune_jobs.now
                 order by e.keep_until limit prune_jobs.max_rows
                 for update skip locked);
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;
