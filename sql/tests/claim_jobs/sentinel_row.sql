begin;
select plan(10);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: one runnable job of task t; t's next jobs: a retry due in 60 s and a
-- first run due in 90 s; another task's job due in 30 s
select id as now_id from pgrun.add_job('t', run_at => now() - interval '1 minute') \gset
select id as retry_id from pgrun.add_job('t', run_at => now() + interval '60 seconds') \gset
select pgrun.reschedule_jobs(array[:retry_id]::bigint[], attempts => 1);
select pgrun.add_job('t', run_at => now() + interval '90 seconds');
select pgrun.add_job('other', run_at => now() + interval '30 seconds');
select is(pgrun_tests.state(:retry_id), 'retryable', 'setup: the retry waits as retryable');

-- TEST: a short claim ends with one row whose id is null: when this worker's
-- next job is due, and whether to look again
create temporary table claimed on commit drop as
select * from pgrun.claim_jobs(pgrun_tests.worker(1), 5, array['t']);
select is((select array_agg(id order by id) from claimed where id is not null), array[:now_id]::bigint[],
  'the runnable job is claimed');
select results_eq(
  $$select next_due_in, look_again from claimed where id is null$$,
  $$values (60::float8, true)$$,
  'the sentinel says the next job of t is due in 60 s, and to look again: this claim found the worker idle');
select results_eq(
  $$select row(queue_name, task_identifier, payload, priority, run_at, attempts, max_attempts, last_error,
               created_at, key, locked_at, revision, flags, lease) is null from claimed where id is null$$,
  $$values (true)$$,
  'its job columns are all null');
select is((select count(*)::integer from claimed), 2, 'one job row and one sentinel row');

-- TEST: only a claim that finds the worker newly idle says look_again
select results_eq(
  format('select next_due_in, look_again from pgrun.claim_jobs(%L, 5, array[''t''])', pgrun_tests.worker(1)),
  $$values (60::float8, false)$$,
  'the next short claim: the same due time, look_again false');

-- TEST: the due time is in the database's time, as of the claim's now
select results_eq(
  format('select next_due_in from pgrun.claim_jobs(%L, 5, array[''t''], now => now() + interval ''15 seconds'')',
         pgrun_tests.worker(1)),
  $$values (45::float8)$$,
  'claimed 15 s later, the retry is due in 45 s');

-- TEST: it follows the worker's tasks (null: every task)
select results_eq(
  format('select next_due_in from pgrun.claim_jobs(%L, 5)', pgrun_tests.worker(1)),
  $$values (30::float8)$$,
  'for every task, the other task''s job due in 30 s comes first');
select results_eq(
  format('select next_due_in from pgrun.claim_jobs(%L, 5, array[''none''])', pgrun_tests.worker(1)),
  $$values (null::float8)$$,
  'nothing due for the worker''s tasks: next_due_in is null');

-- TEST: a full claim has no sentinel row
select pgrun.add_job('t');
select is((select count(*)::integer from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array['t'])), 1,
  'a claim that got max_jobs jobs returns just those');

select finish();
rollback;
