begin;
select plan(8);
select pgrun_tests.reset();
select pgrun_tests.register(n) from generate_series(1, 2) as n;

-- SETUP: worker 1 runs a, b (in queue q) and c; worker 2 runs d; e waits
select id as a_id from pgrun.add_job('t', run_at => now() - interval '5 minutes') \gset
select id as b_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '4 minutes') \gset
select id as c_id from pgrun.add_job('t', run_at => now() - interval '3 minutes') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 3)), 3, 'setup: worker 1 claims three jobs');
select id as d_id from pgrun.add_job('t') \gset
select is((select id from pgrun_tests.claim(2, 1)), :d_id::bigint, 'setup: worker 2 claims one');
select id as e_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset

-- TEST: every id is answered: completed if this worker holds it under that
-- lease, lost otherwise (another worker's, a wrong or missing lease, not
-- running, unknown)
select set_eq(
  format($$select job_id, outcome from pgrun.complete_attempts(%L,
             array[%s, %s, %s, %s, %s, -1]::bigint[], array[%s, %s, %s, %s, %s, 1]::bigint[])$$,
         pgrun_tests.worker(1), :a_id, :b_id, :c_id, :d_id, :e_id,
         pgrun_tests.lease(:a_id), pgrun_tests.lease(:b_id), pgrun_tests.lease(:c_id) + 1000,
         pgrun_tests.lease(:d_id), 'null'),
  format($$values (%s::bigint, 'completed'), (%s, 'completed'), (%s, 'lost'), (%s, 'lost'), (%s, 'lost'), (-1, 'lost')$$,
         :a_id, :b_id, :c_id, :d_id, :e_id),
  'a and b completed; c (wrong lease), d (worker 2''s), e (waiting) and -1 lost');

-- TEST: completed jobs leave (no retention by default); the others are untouched
select set_eq($$select id from pgrun.jobs$$, format('values (%s::bigint), (%s), (%s)', :c_id, :d_id, :e_id),
  'a and b are gone');
select results_eq(
  format($$select id, state, locked_by from pgrun.jobs where id in (%s, %s) order by id$$, :c_id, :d_id),
  format($$values (%s::bigint, 'running', %L), (%s, 'running', %L)$$,
         :c_id, pgrun_tests.worker(1), :d_id, pgrun_tests.worker(2)),
  'c still runs for worker 1, d for worker 2');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0, 'q runs nothing now');

-- TEST: an attempt answered twice is lost the second time
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[:a_id]::bigint[],
                                                       array[1]::bigint[])),
  'lost', 'completing a completed job again says lost');

-- TEST: an empty batch answers nothing
select is_empty(format($$select from pgrun.complete_attempts(%L, '{}', '{}')$$, pgrun_tests.worker(1)),
  'no ids, no answers');

select finish();
rollback;
