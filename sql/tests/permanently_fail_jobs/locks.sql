begin;
select plan(7);
select pgrun_tests.reset();

-- SETUP: a job nobody runs, one worker 1 claimed just now, one worker 2 claimed five hours ago
select id as free_id from pgrun.add_job('free', max_attempts => 5) \gset
select id as busy_id from pgrun.add_job('busy', max_attempts => 5) \gset
select id as stale_id from pgrun.add_job('stale', max_attempts => 5) \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['busy'])).id, :busy_id::bigint, 'setup: worker 1 runs busy');
select is((pgrun.get_job(pgrun_tests.worker(2), array['stale'])).id, :stale_id::bigint, 'setup: worker 2 runs stale');
select pgrun_tests.age_lock(:stale_id, interval '5 hours');

-- TEST: permanently_fail_jobs stops the retries of jobs that are not running, with the default message
select set_eq(
  format('select id from pgrun.permanently_fail_jobs(array[%s, %s, %s]::bigint[])', :free_id, :busy_id, :stale_id),
  format('values (%s::bigint), (%s)', :free_id, :stale_id),
  'the free and the stale job are returned');
select results_eq(
  format('select id, attempts, last_error, updated_at from pgrun.jobs where id in (%s, %s) order by id',
         :free_id, :stale_id),
  format($$values (%s::bigint, 5::smallint, 'Manually marked as failed', now()),
                  (%s, 5::smallint, 'Manually marked as failed', now())$$, :free_id, :stale_id),
  'their attempts = max_attempts and last_error says ''Manually marked as failed''');
select results_eq(
  format('select attempts, last_error, locked_by from pgrun.jobs where id = %s', :busy_id),
  format('values (1::smallint, null::text, %L)', pgrun_tests.worker(1)),
  'the running job is untouched');
select ok((pgrun.get_job(pgrun_tests.worker(3), array['free', 'stale'], now => now() + interval '1 year')).id is null,
  'the failed jobs are never claimed');

-- TEST: an explicit message is stored instead
select pgrun.reschedule_jobs(array[:free_id]::bigint[], attempts => 0);
select is((select last_error from pgrun.permanently_fail_jobs(array[:free_id]::bigint[], 'customer cancelled')),
  'customer cancelled', 'the given error_message is stored');

select finish();
rollback;
