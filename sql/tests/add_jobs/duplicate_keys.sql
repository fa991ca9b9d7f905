begin;
select plan(7);
select pgrun_tests.reset();

-- TEST: the same key twice in one call behaves like two add_job calls in a row
select results_eq(
  $$select key, payload::text, revision from pgrun.add_jobs(array[
      row('batch.task', '[1]', null, null, null, 'k-batch', null, null, null, null)::pgrun.job_spec,
      row('batch.task', '[2]', null, null, null, 'k-batch', null, null, null, null)::pgrun.job_spec,
      row('other.task', '{"x": 1}', null, null, null, 'k-other', null, null, null, null)::pgrun.job_spec,
      row('batch.task', '[3]', null, null, null, 'k-batch', null, null, null, null)::pgrun.job_spec])$$,
  $$values ('k-batch', '[1]', 0), ('k-batch', '[1, 2]', 1), ('k-other', '{"x": 1}', 0), ('k-batch', '[1, 2, 3]', 2)$$,
  'one row per spec, in order, each showing the job as that spec left it');
select results_eq(
  $$select key, payload::text, revision from pgrun.jobs order by key$$,
  $$values ('k-batch', '[1, 2, 3]', 2), ('k-other', '{"x": 1}', 0)$$,
  'one job per key; the batch payloads are appended');

-- TEST: with object payloads the last spec wins
select is((select count(*)::integer from pgrun.add_jobs(array[
    row('other.task', '{"x": 2}', null, null, null, 'k-other', null, null, null, null)::pgrun.job_spec,
    row('other.task', '{"x": 3}', 'q', null, 7, 'k-other', 2, null, null, null)::pgrun.job_spec])),
  2, 'two rows are returned');
select results_eq(
  $$select payload::text, queue_name, max_attempts, priority, revision from pgrun.jobs where key = 'k-other'$$,
  $$values ('{"x": 3}', 'q', 7::smallint, 2::smallint, 2)$$,
  'the job holds the last spec''s values after two revisions');

-- TEST: job_key_preserve_run_at applies to every repetition
select results_eq(
  $$select run_at from pgrun.add_jobs(array[
      row('late.task', null, null, now() + interval '1 hour', null, 'k-late', null, null, null, null)::pgrun.job_spec,
      row('late.task', null, null, now() + interval '2 hours', null, 'k-late', null, null, null, null)::pgrun.job_spec],
      job_key_preserve_run_at => true)$$,
  $$values (now() + interval '1 hour'), (now() + interval '1 hour')$$,
  'the second spec keeps the run_at the first one set');

-- TEST: a repeated key whose job is running detaches it once, then updates the fresh job
select is((pgrun.get_job(pgrun_tests.worker(1), array['other.task'])).key, 'k-other',
  'setup: worker 1 claims the k-other job');
select pgrun.add_jobs(array[
  row('other.task', '[1]', null, null, null, 'k-other', null, null, null, null)::pgrun.job_spec,
  row('other.task', '[2]', null, null, null, 'k-other', null, null, null, null)::pgrun.job_spec]);
select results_eq(
  $$select key, payload::text, locked_by is not null from pgrun.jobs where task_identifier = 'other.task' order by id$$,
  $$values (null::text, '{"x": 3}', true), ('k-other', '[1, 2]', false)$$,
  'the running job lost its key; the fresh job collected both payloads');

select finish();
rollback;
