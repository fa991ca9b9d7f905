begin;
select plan(5);
create extension if not exists dblink;

-- Outcome rollups are one row per (minute, worker, task): a worker's batch of
-- outcomes, still uncommitted, holds its own rows only, so another worker's
-- outcomes of the same task in the same minute do not wait for it. Two
-- sessions act as the two workers; this session only watches.
select pgrun_tests.connect('first');
select pgrun_tests.connect('second');

-- SETUP (committed): each worker holds one job of task t
select pgrun_tests.run('first', 'select pgrun_tests.reset()');
select pgrun_tests.run('first', 'select pgrun_tests.register(1)');
select pgrun_tests.run('first', 'select pgrun_tests.register(2)');
select pgrun_tests.run('first', $$select pgrun.add_job('t') from generate_series(1, 2)$$);
select pgrun_tests.run('first', 'select from pgrun_tests.claim(1, 1)');
select pgrun_tests.run('first', 'select from pgrun_tests.claim(2, 1)');
select id as one_id, lease as one_lease from pgrun._private_jobs where locked_by = pgrun_tests.worker(1) \gset
select id as two_id, lease as two_lease from pgrun._private_jobs where locked_by = pgrun_tests.worker(2) \gset

-- TEST: worker 1 ends its attempt in a transaction it keeps open (its rollup row locked) ...
select dblink_exec('first', 'begin');
select pgrun_tests.run('first', format(
  $$select from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
  pgrun_tests.worker(1), :one_id, :one_lease));
-- ... and worker 2's outcome of the same task goes through at once
select ok(pgrun_tests.returns_promptly('second', format(
    $$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
    pgrun_tests.worker(2), :two_id, :two_lease)),
  'another worker''s outcome does not wait for the open batch');
select set_eq($$select * from dblink_get_result('second') as t(job_id bigint, outcome text)$$,
  format($$values (%s::bigint, 'completed')$$, :two_id), 'and completes');
select * from dblink_get_result('second') as t(job_id bigint, outcome text);
select dblink_exec('first', 'commit');

-- TEST: each worker has its row; job_throughput sums them
select is((select count(*) from pgrun._private_outcome_minutes where task_identifier = 't'), 2::bigint,
  'one row per worker');
select is((select sum(completed) from pgrun.job_throughput(2) where task_identifier = 't'), 2::numeric,
  'summed at read time');  -- two minutes: the batches may straddle a minute's end
select is((select count(*)::integer from pgrun.jobs), 0, 'both jobs are done');

select pgrun_tests.run('first', 'select pgrun_tests.reset()');
select dblink_disconnect('first');
select dblink_disconnect('second');
select finish();
rollback;
