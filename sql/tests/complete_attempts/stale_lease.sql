begin;
select plan(9);
select pgrun_tests.reset();
select pgrun_tests.register(n) from generate_series(1, 2) as n;

-- Fault 5: a lock belonged to a worker id, not to one claim, so a late
-- outcome of attempt 1 (a write retried after a lost connection) completed or
-- failed attempt 2 of the same job.

-- SETUP: worker 1 claims the job (attempt 1, lease L1), fails it, and
-- claims it again (attempt 2, lease L2)
select id as job_id from pgrun.add_job('t', max_attempts => 5) \gset
select lease as l1 from pgrun_tests.claim(1) \gset
select pgrun.fail_attempts(pgrun_tests.worker(1), array[:job_id]::bigint[], array[:l1]::bigint[], array['attempt 1 failed']);
select pgrun.reschedule_jobs(array[:job_id]::bigint[], run_at => now());
select lease as l2 from pgrun_tests.claim(1) \gset
select isnt(:l1::bigint, :l2::bigint, 'setup: attempt 2 runs under a new lease');

-- TEST: attempt 1's late outcomes are lost, whatever they say
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[:job_id]::bigint[], array[:l1]::bigint[])),
  'lost', 'a late completion of attempt 1 is lost');
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:job_id]::bigint[], array[:l1]::bigint[],
                                                   array['late'])),
  'lost', 'a late failure of attempt 1 is lost');
select is((select outcome from pgrun.return_attempts(pgrun_tests.worker(1), array[:job_id]::bigint[], array[:l1]::bigint[])),
  'lost', 'a late give-back of attempt 1 is lost');
select results_eq(
  format('select state, attempts, lease, last_error from pgrun._private_jobs where id = %s', :job_id),
  format($$values ('running', 2::smallint, %s::bigint, 'attempt 1 failed')$$, :l2),
  'attempt 2 runs on, untouched');

-- TEST: attempt 2's own outcome is taken
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[:job_id]::bigint[], array[:l2]::bigint[])),
  'completed', 'attempt 2 completes with its lease');

-- TEST: after a worker is reaped, its lease cannot touch the next worker's attempt
select id as other_id from pgrun.add_job('t') \gset
select lease as l3 from pgrun_tests.claim(1) \gset
select pgrun.force_unlock_workers(array[pgrun_tests.worker(1)]);
select lease as l4 from pgrun_tests.claim(2) \gset
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[:other_id]::bigint[], array[:l3]::bigint[])),
  'lost', 'the reaped worker''s late completion is lost');
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(2), array[:other_id]::bigint[], array[:l3]::bigint[])),
  'lost', 'so is attempt 1''s lease presented by the new holder');
select results_eq(
  format('select state, locked_by, lease from pgrun._private_jobs where id = %s', :other_id),
  format($$values ('running', %L, %s::bigint)$$, pgrun_tests.worker(2), :l4),
  'the job runs for worker 2 under its own lease');

select finish();
rollback;
