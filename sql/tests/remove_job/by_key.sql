begin;
select plan(10);
select pgrun_tests.reset();

-- SETUP: keyed jobs: one nobody runs, one worker 1 claimed just now, one worker 2 claimed five hours ago
select id as free_id from pgrun.add_job('free', job_key => 'k-free') \gset
select id as busy_id from pgrun.add_job('busy', max_attempts => 5, job_key => 'k-busy') \gset
select id as stale_id from pgrun.add_job('stale', job_key => 'k-stale') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['busy'])).id, :busy_id::bigint, 'setup: worker 1 runs busy');
select is((pgrun.get_job(pgrun_tests.worker(2), array['stale'])).id, :stale_id::bigint, 'setup: worker 2 runs stale');
select pgrun_tests.age_lock(:stale_id, interval '5 hours');

-- TEST: a job that is not running is deleted and returned
select is((pgrun.remove_job('k-free')).id, :free_id::bigint, 'the unlocked job is returned');
select is_empty(format('select from pgrun.jobs where id = %s', :free_id), 'and deleted');

-- TEST: a job locked more than 4 hours ago counts as not running
select is((pgrun.remove_job('k-stale')).id, :stale_id::bigint, 'the stale job is returned');
select is_empty(format('select from pgrun.jobs where id = %s', :stale_id), 'and deleted');

-- TEST: a running job keeps running but loses its key and its retries
select results_eq(
  $$select key, attempts, max_attempts, locked_by from pgrun.remove_job('k-busy')$$,
  format('values (null::text, 5::smallint, 5::smallint, %L)', pgrun_tests.worker(1)),
  'the running job is returned without its key, attempts = max_attempts, still locked');
select is((select key from pgrun.jobs where id = :busy_id), null, 'it stays in the table without its key');
select is((pgrun.add_job('busy', job_key => 'k-busy')).attempts, 0::smallint,
  'the key is free for a new job at once');

-- TEST: an unknown key returns null
select ok(pgrun.remove_job('k-unknown') is null, 'remove_job of an unknown key returns null');

select finish();
rollback;
