begin;
select plan(8);
select pgrun_tests.reset();

-- SETUP: a job in queue q, claimed by worker 1
select id as job_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 3) \gset
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :job_id::bigint, 'setup: worker 1 claims the job');

-- TEST: fail_job records the error, unlocks the job, frees its queue, returns the job
select results_eq(
  format($$select id, last_error, attempts, locked_at, locked_by
           from pgrun.fail_job(%L, %s, 'connection refused')$$, pgrun_tests.worker(1), :job_id),
  format($$values (%s::bigint, 'connection refused', 1::smallint, null::timestamptz, null::text)$$, :job_id),
  'the failed job is returned with last_error set and its lock gone');
select results_eq(
  format('select last_error, locked_at, locked_by, updated_at from pgrun.jobs where id = %s', :job_id),
  $$values ('connection refused', null::timestamptz, null::text, now())$$,
  'the stored job says the same');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0,
  'queue q runs nothing');
select is((select errors from pgrun.jobs where id = :job_id),
  jsonb_build_array(jsonb_build_object('at', now(), 'attempt', 1, 'error', 'connection refused')),
  'the errors history holds {at, attempt, error} of the failure');

-- TEST: a second failure adds a second entry and replaces last_error
select is((pgrun.get_job(pgrun_tests.worker(2), now => now() + interval '1 minute')).id, :job_id::bigint,
  'setup: worker 2 claims the retry');
select pgrun.fail_job(pgrun_tests.worker(2), :job_id, 'timeout');
select is((select last_error from pgrun.jobs where id = :job_id), 'timeout', 'last_error is the latest error');
select is((select errors from pgrun.jobs where id = :job_id),
  jsonb_build_array(
    jsonb_build_object('at', now(), 'attempt', 1, 'error', 'connection refused'),
    jsonb_build_object('at', now(), 'attempt', 2, 'error', 'timeout')),
  'the errors history holds both failures, oldest first');

select finish();
rollback;
