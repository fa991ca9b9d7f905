begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: a job nobody runs, one worker 1 claimed just now, one worker 2 claimed five hours ago
select id as free_id from pgrun.add_job('free') \gset
select id as busy_id from pgrun.add_job('busy', queue_name => 'busy-q') \gset
select id as stale_id from pgrun.add_job('stale', queue_name => 'stale-q') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['busy'])).id, :busy_id::bigint, 'setup: worker 1 runs busy');
select is((pgrun.get_job(pgrun_tests.worker(2), array['stale'])).id, :stale_id::bigint, 'setup: worker 2 runs stale');
select pgrun_tests.age_lock(:stale_id, interval '5 hours');

-- TEST: complete_jobs deletes unlocked jobs and jobs locked more than 4 hours ago, not running ones
select set_eq(
  format('select id from pgrun.complete_jobs(array[%s, %s, %s, -1]::bigint[])', :free_id, :busy_id, :stale_id),
  format('values (%s::bigint), (%s)', :free_id, :stale_id),
  'the free and the stale job are returned');
select set_eq($$select id from pgrun.jobs$$, format('values (%s::bigint)', :busy_id),
  'only the running job remains');
select results_eq(
  format('select attempts, locked_by from pgrun.jobs where id = %s', :busy_id),
  format('values (1::smallint, %L)', pgrun_tests.worker(1)),
  'the running job is untouched');

select finish();
rollback;
