begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: a job nobody runs, one worker 1 claimed just now, one worker 2 claimed five hours ago
select id as free_id from pgrun.add_job('free') \gset
select id as busy_id from pgrun.add_job('busy') \gset
select id as stale_id from pgrun.add_job('stale') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['busy'])).id, :busy_id::bigint, 'setup: worker 1 runs busy');
select is((pgrun.get_job(pgrun_tests.worker(2), array['stale'])).id, :stale_id::bigint, 'setup: worker 2 runs stale');
select pgrun_tests.age_lock(:stale_id, interval '5 hours');

-- TEST: reschedule_jobs changes jobs that are not running
select set_eq(
  format($$select id from pgrun.reschedule_jobs(array[%s, %s, %s]::bigint[], run_at => now() + interval '1 day',
           priority => 7)$$, :free_id, :busy_id, :stale_id),
  format('values (%s::bigint), (%s)', :free_id, :stale_id),
  'the free and the stale job are returned');
select results_eq(
  format('select run_at, priority from pgrun.jobs where id in (%s, %s) order by id', :free_id, :stale_id),
  $$values (now() + interval '1 day', 7::smallint), (now() + interval '1 day', 7::smallint)$$,
  'both are rescheduled');
select results_eq(
  format('select run_at, priority, locked_by from pgrun.jobs where id = %s', :busy_id),
  format('values (now(), 0::smallint, %L)', pgrun_tests.worker(1)),
  'the running job is untouched');

select finish();
rollback;
