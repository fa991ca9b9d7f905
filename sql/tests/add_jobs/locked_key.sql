begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: a keyed job that is running and a keyed job that used all its attempts
select id as running_id from pgrun.add_job('running.task', '{"v": 1}', max_attempts => 4, job_key => 'k-running') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['running.task'])).id, :running_id::bigint,
  'setup: worker 1 claims the running job');
select id as failed_id from pgrun.add_job('failed.task', '{"v": 1}', max_attempts => 1, job_key => 'k-failed') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['failed.task'])).id, :failed_id::bigint,
  'setup: worker 1 claims the failing job');
select pgrun.fail_job(pgrun_tests.worker(1), :failed_id, 'final failure');

-- TEST: add_jobs detaches a running or exhausted keyed job and inserts a fresh job with the key
create temporary table added on commit drop as
select * from pgrun.add_jobs(array[
  row('running.task', '{"v": 2}', null, null, null, 'k-running', null, null, null, null)::pgrun.job_spec,
  row('failed.task', '{"v": 2}', null, null, null, 'k-failed', null, null, null, null)::pgrun.job_spec]);

select results_eq(
  $$select key, payload::text, attempts, locked_at from added order by key desc$$,
  $$values ('k-running', '{"v": 2}', 0::smallint, null::timestamptz), ('k-failed', '{"v": 2}', 0::smallint, null)$$,
  'the returned rows are fresh unlocked jobs holding the keys');
select is((select count(*)::integer from added where id in (:running_id, :failed_id)), 0,
  'neither returned row is an old job');
select results_eq(
  format('select id, key, attempts, max_attempts, locked_by from pgrun.jobs where id in (%s, %s) order by id',
         :running_id, :failed_id),
  format($$values (%s::bigint, null::text, 4::smallint, 4::smallint, %L), (%s, null, 1::smallint, 1::smallint, null)$$,
         :running_id, pgrun_tests.worker(1), :failed_id),
  'the old jobs lost their keys; the running one keeps running but will not be retried');
select is((select count(*)::integer from pgrun.jobs), 4, 'four jobs in all');

select finish();
rollback;
