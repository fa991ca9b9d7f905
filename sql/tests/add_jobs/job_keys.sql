begin;
select plan(10);
select pgrun_tests.reset();

-- SETUP: a pending keyed job, an attempted keyed job (failed once) and a batch job
select id as pending_id from pgrun.add_job('old.task', '{"v": 1}', run_at => now() + interval '1 hour',
  job_key => 'k-pending') \gset
select id as attempted_id from pgrun.add_job('attempted.task', job_key => 'k-attempted') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['attempted.task'])).id, :attempted_id::bigint,
  'setup: worker 1 claims the attempted job');
select pgrun.fail_job(pgrun_tests.worker(1), :attempted_id, 'boom');
select id as batch_id from pgrun.add_job('batch.task', '[1]', job_key => 'k-batch') \gset

-- TEST: keyed specs replace pending jobs in place (job_key_preserve_run_at false: run_at is replaced)
select results_eq(
  $$select id, task_identifier, payload::text, run_at, attempts, last_error, revision
    from pgrun.add_jobs(array[
      row('new.task', '{"v": 2}', null, now() + interval '2 hours', null, 'k-pending', null, null, null, null)::pgrun.job_spec,
      row('attempted.task', '{"v": 2}', null, now() + interval '2 hours', null, 'k-attempted', null, null, null, null)::pgrun.job_spec,
      row('batch.task', '[2, 3]', null, null, null, 'k-batch', null, null, null, null)::pgrun.job_spec])
    order by id$$,
  format($$values (%s::bigint, 'new.task', '{"v": 2}', now() + interval '2 hours', 0::smallint, null::text, 1),
                  (%s::bigint, 'attempted.task', '{"v": 2}', now() + interval '2 hours', 0::smallint, null, 1),
                  (%s::bigint, 'batch.task', '[1, 2, 3]', now(), 0::smallint, null, 1)$$,
         :pending_id, :attempted_id, :batch_id),
  'each keyed job is updated in place: new values, attempts 0, error cleared, revision + 1, arrays appended');
select is((select count(*)::integer from pgrun.jobs), 3, 'no job is inserted');

-- TEST: job_key_preserve_run_at keeps the run_at of a job never attempted...
select is((select run_at from pgrun.add_jobs(array[
    row('new.task', '{"v": 3}', null, now() + interval '3 hours', null, 'k-pending', null, null, null, null)::pgrun.job_spec],
    job_key_preserve_run_at => true)),
  now() + interval '2 hours', 'a never attempted job keeps its run_at');
select is((select payload::text from pgrun.jobs where id = :pending_id), '{"v": 3}',
  'while its payload is replaced');

-- TEST: ...but not of a job that was attempted
select is((pgrun.get_job(pgrun_tests.worker(1), array['attempted.task'], now => now() + interval '2 hours')).id,
  :attempted_id::bigint, 'setup: worker 1 claims the attempted job again');
select pgrun.fail_job(pgrun_tests.worker(1), :attempted_id, 'boom again');
select is((select run_at from pgrun.add_jobs(array[
    row('attempted.task', null, null, now() + interval '3 hours', null, 'k-attempted', null, null, null, null)::pgrun.job_spec],
    job_key_preserve_run_at => true)),
  now() + interval '3 hours', 'an attempted job takes the new run_at');
select is((select attempts from pgrun.jobs where id = :attempted_id), 0::smallint, 'and its attempts are reset');

-- TEST: keyed and unkeyed specs mix in one call
select is((select count(*)::integer from pgrun.add_jobs(array[
    row('batch.task', '[4]', null, null, null, 'k-batch', null, null, null, null)::pgrun.job_spec,
    row('plain.task', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
    row('plain.task', null, null, null, null, null, null, null, null, null)::pgrun.job_spec])),
  3, 'one row per spec');
select results_eq(
  $$select count(*)::integer, (select payload::text from pgrun.jobs where key = 'k-batch') from pgrun.jobs$$,
  $$values (5, '[1, 2, 3, 4]')$$,
  'two plain jobs are inserted and the batch job is appended to');

select finish();
rollback;
