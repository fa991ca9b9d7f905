begin;
select plan(10);
select pgrun_tests.reset();

-- SETUP: one job of queue q, due in an hour
select id as job_id from pgrun.add_job('t', queue_name => 'q', run_at => now() + interval '1 hour', max_attempts => 3) \gset
select is(pgrun_tests.state(:job_id), 'scheduled', 'setup: it is scheduled');

-- TEST: the state follows run_at and attempts
select is((select state from pgrun.reschedule_jobs(array[:job_id]::bigint[], run_at => now())), 'available',
  'run_at now: available');
select results_eq($$select * from pgrun_tests.listed()$$, format($$values ('q', %s::bigint)$$, :job_id),
  'and its queue is listed');
select is((select state from pgrun.reschedule_jobs(array[:job_id]::bigint[], run_at => now() + interval '1 minute')),
  'scheduled', 'later again, never attempted: scheduled');
select is((select state from pgrun.reschedule_jobs(array[:job_id]::bigint[], attempts => 1)), 'retryable',
  'later, attempted once: retryable');
select results_eq(
  format('select state, finished_at from pgrun.reschedule_jobs(array[%s]::bigint[], attempts => 3)', :job_id),
  $$values ('failed', now())$$, 'attempts used up: failed, finished now');
select results_eq(
  format('select state, finished_at, keep_until from pgrun.reschedule_jobs(array[%s]::bigint[], max_attempts => 5, run_at => now())', :job_id),
  $$values ('available', null::timestamptz, null::timestamptz)$$,
  'more attempts and due now: available again, not finished any more');

-- TEST: running, completed and cancelled jobs are left alone
select pgrun_tests.register(1);
select pgrun_tests.claim(1);
select is_empty(format('select from pgrun.reschedule_jobs(array[%s]::bigint[], run_at => now() + interval ''1 day'')', :job_id),
  'a running job is not rescheduled');
select pgrun.set_retention(interval '1 day', null, null);
select pgrun.complete_attempts(pgrun_tests.worker(1), array[:job_id]::bigint[], array[pgrun_tests.lease(:job_id)]);
select is_empty(format('select from pgrun.reschedule_jobs(array[%s]::bigint[], run_at => now())', :job_id),
  'a completed job is not rescheduled');
select is(pgrun_tests.state(:job_id), 'completed', 'it stays completed');

select finish();
rollback;
