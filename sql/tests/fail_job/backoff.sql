begin;
select plan(8);
select pgrun_tests.reset();

-- The retry comes exp(least(attempts, 10)) seconds after greatest(now(), run_at):
-- e^1 = 2.718282 s, e^3 = 20.085537 s, e^10 = 22026.465795 s (to the microsecond).

-- TEST: after the first attempt the job is retried e^1 seconds later
select id as first_id from pgrun.add_job('first') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['first'])).attempts, 1::smallint, 'setup: attempt 1 claimed');
select is((pgrun.fail_job(pgrun_tests.worker(1), :first_id, 'boom')).run_at, now() + interval '2.718282 seconds',
  'attempt 1: run_at = now() + e^1 seconds');

-- TEST: after the third attempt, e^3 seconds
select id as third_id from pgrun.add_job('third') \gset
select pgrun.reschedule_jobs(array[:third_id]::bigint[], attempts => 2);
select is((pgrun.get_job(pgrun_tests.worker(1), array['third'])).attempts, 3::smallint, 'setup: attempt 3 claimed');
select is((pgrun.fail_job(pgrun_tests.worker(1), :third_id, 'boom')).run_at, now() + interval '20.085537 seconds',
  'attempt 3: run_at = now() + e^3 seconds');

-- TEST: from the tenth attempt on the delay stops growing
select id as twelfth_id from pgrun.add_job('twelfth') \gset
select pgrun.reschedule_jobs(array[:twelfth_id]::bigint[], attempts => 11);
select is((pgrun.get_job(pgrun_tests.worker(1), array['twelfth'])).attempts, 12::smallint, 'setup: attempt 12 claimed');
select is((pgrun.fail_job(pgrun_tests.worker(1), :twelfth_id, 'boom')).run_at, now() + interval '22026.465795 seconds',
  'attempt 12: run_at = now() + e^10 seconds, capped at 10');

-- TEST: a job claimed before its run_at (a later `now`) retries counted from its run_at
select id as early_id from pgrun.add_job('early', run_at => now() + interval '1 hour') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['early'], now => now() + interval '1 hour')).id,
  :early_id::bigint, 'setup: claimed with now at its run_at');
select is((pgrun.fail_job(pgrun_tests.worker(1), :early_id, 'boom')).run_at,
  now() + interval '1 hour' + interval '2.718282 seconds',
  'run_at = run_at + e^1 seconds when run_at is later than now()');

select finish();
rollback;
