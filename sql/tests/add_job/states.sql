begin;
select plan(8);
select pgrun_tests.reset();

-- TEST: a job due now is available; a job due later is scheduled
select is((pgrun.add_job('t')).state, 'available', 'a job without run_at is available');
select is((pgrun.add_job('t', run_at => now() - interval '1 minute')).state, 'available', 'a job due in the past is available');
select is((pgrun.add_job('t', run_at => now())).state, 'available', 'a job due now is available');
select is((pgrun.add_job('t', run_at => now() + interval '1 second')).state, 'scheduled', 'a job due later is scheduled');

-- TEST: a replaced job's state follows its new run_at
select pgrun.add_job('t', job_key => 'k', run_at => now() + interval '1 hour');
select is((pgrun.add_job('t', job_key => 'k')).state, 'available', 'replaced with run_at now: available');
select is((pgrun.add_job('t', job_key => 'k', run_at => now() + interval '1 hour')).state, 'scheduled',
  'replaced with a later run_at: scheduled');

-- TEST: add_jobs sets the same states
select results_eq(
  $$select state from pgrun.add_jobs(array[
      row('t', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row('t', null, null, now() + interval '1 hour', null, null, null, null, null, null)::pgrun.job_spec,
      row('t', null, null, now() + interval '1 hour', null, 'k2', null, null, null, null)::pgrun.job_spec])$$,
  $$values ('available'), ('scheduled'), ('scheduled')$$,
  'available, scheduled, and scheduled on the keyed path');

-- TEST: new jobs are not finished and hold no lease
select is((select count(*)::integer from pgrun._private_jobs
           where finished_at is not null or keep_until is not null or lease is not null or result is not null), 0,
  'no finished_at, keep_until, lease or result on a new job');

select finish();
rollback;
