begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: a job with two attempts
select id as job_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 2) \gset

-- TEST: after max_attempts failures the job stays for inspection and is never claimed again
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :job_id::bigint, 'attempt 1 claimed');
select pgrun.fail_job(pgrun_tests.worker(1), :job_id, 'first');
select is((pgrun.get_job(pgrun_tests.worker(1), now => now() + interval '1 minute')).id, :job_id::bigint,
  'attempt 2 claimed');
select pgrun.fail_job(pgrun_tests.worker(1), :job_id, 'second');
select results_eq(
  format('select attempts, max_attempts, last_error, locked_at, jsonb_array_length(errors) from pgrun.jobs where id = %s',
         :job_id),
  $$values (2::smallint, 2::smallint, 'second', null::timestamptz, 2)$$,
  'the job stays, unlocked, with attempts = max_attempts, its last error and its full history');
select ok((pgrun.get_job(pgrun_tests.worker(1), now => now() + interval '1 year')).id is null,
  'it is not claimable, even a year later');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0,
  'its queue is free for other jobs');
select id as next_id from pgrun.add_job('t', queue_name => 'q') \gset
select is((pgrun.get_job(pgrun_tests.worker(2))).id, :next_id::bigint,
  'a new job in the same queue runs');

select finish();
rollback;
