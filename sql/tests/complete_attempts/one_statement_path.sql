begin;
select plan(24);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- Most completions take one statement (_end_plain_completions): jobs of no
-- limit key (queued ones with their queue row), with no cancel asked, nobody waiting and no followers, deleted
-- or kept by their retention rule. Each of the others must still get its own rule, in the
-- same batch.

-- SETUP: worker 1 runs p1, p2 (plain), q1 (queue q), c1 (its cancel asked), w1 (watched)
select id as p1 from pgrun.add_job('t', run_at => now() - interval '5 minutes') \gset
select id as p2 from pgrun.add_job('t', run_at => now() - interval '4 minutes') \gset
select id as q1 from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '3 minutes') \gset
select id as c1 from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select id as w1 from pgrun.add_job('t', run_at => now() - interval '1 minute') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 5)), 5, 'setup: worker 1 claims five jobs');
select pgrun.watch_jobs(array[:w1]::bigint[]);
select is((select count(*)::integer from pgrun.cancel_jobs(array[:c1]::bigint[], 'not needed')), 1,
  'setup: c1''s cancel is asked while it runs');

-- TEST: every job of the batch gets its own outcome
select set_eq(
  format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s, %s, %s, %s, %s]::bigint[],
             array[%s, %s, %s, %s, %s]::bigint[])$$,
         pgrun_tests.worker(1), :p1, :p2, :q1, :c1, :w1,
         pgrun_tests.lease(:p1), pgrun_tests.lease(:p2), pgrun_tests.lease(:q1), pgrun_tests.lease(:c1),
         pgrun_tests.lease(:w1)),
  format($$values (%s::bigint, 'completed'), (%s, 'completed'), (%s, 'completed'), (%s, 'cancelled'),
                  (%s, 'completed')$$, :p1, :p2, :q1, :c1, :w1),
  'plain, queued and watched jobs complete; the one whose cancel was asked ends cancelled');
select set_eq($$select id, state from pgrun.jobs$$,
  format($$values (%s::bigint, 'cancelled'), (%s, 'completed')$$, :c1, :w1),
  'p1, p2 and q1 are gone; c1 is kept cancelled, w1 completed for whoever waits on it');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0,
  'queue q runs nothing: its counter went down');
select is((select keep_until > now() from pgrun._private_jobs where id = :w1), true,
  'the watched job is kept a while');
select results_eq(
  format($$select sum(completed)::integer, sum(cancelled)::integer from pgrun._private_outcome_minutes
           where worker_id = %L$$, pgrun_tests.worker(1)),
  $$values (4, 1)$$,
  'the outcome rollups count both ways: four completions and one cancel');

-- TEST: a wrong lease is lost, and does not keep the rest of the batch from completing
select id as p3 from pgrun.add_job('t') \gset
select id as p4 from pgrun.add_job('t') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 2)), 2, 'setup: worker 1 claims two more');
select set_eq(
  format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s, %s]::bigint[], array[%s, %s]::bigint[])$$,
         pgrun_tests.worker(1), :p3, :p4, pgrun_tests.lease(:p3), pgrun_tests.lease(:p4) + 1000),
  format($$values (%s::bigint, 'completed'), (%s, 'lost')$$, :p3, :p4),
  'p3 completes, p4 (a wrong lease) is lost and still runs');

-- TEST: a plain batch of two tasks is counted per task (one rollup line each)
select id as t1 from pgrun.add_job('t') \gset
select id as u1 from pgrun.add_job('u') \gset
select id as u2 from pgrun.add_job('u') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 3)), 3, 'setup: worker 1 claims t1, u1 and u2');
select is(
  (select count(*)::integer from pgrun.complete_attempts(pgrun_tests.worker(1), array[:t1, :u1, :u2]::bigint[],
     array[pgrun_tests.lease(:t1), pgrun_tests.lease(:u1), pgrun_tests.lease(:u2)]) where outcome = 'completed'),
  3, 'the three complete');
select results_eq(
  format($$select task_identifier, sum(completed)::integer from pgrun._private_outcome_minutes
           where worker_id = %L group by task_identifier order by 1$$, pgrun_tests.worker(1)),
  $$values ('t'::text, 6), ('u', 2)$$,
  'the rollups count each task''s completions: t five before and t1, u two');

-- TEST: with retention rules, plain completions still take the one statement:
-- each is kept or deleted by its task's rule, with its result
set local track_functions = 'all';  -- pg_stat_get_xact_function_calls: this transaction's calls
select pgrun.set_retention(interval '1 day', null, null);
select pgrun.set_retention(interval '0', null, null, task_identifier => 'u');
select pgrun.set_retention(null, null, null, task_identifier => 'v');
select id as p5 from pgrun.add_job('t') \gset
select id as u3 from pgrun.add_job('u') \gset
select id as v1 from pgrun.add_job('v') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 3)), 3, 'setup: worker 1 claims p5, u3 and v1');
select is(pg_stat_get_xact_function_calls('pgrun._end_attempts'::regproc), null::bigint,
  'setup: the long way has not been taken in this transaction');
select set_eq(
  format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s, %s, %s]::bigint[],
             array[%s, %s, %s]::bigint[], array['{"n": 5}', null, '"v"']::jsonb[])$$,
         pgrun_tests.worker(1), :p5, :u3, :v1,
         pgrun_tests.lease(:p5), pgrun_tests.lease(:u3), pgrun_tests.lease(:v1)),
  format($$values (%s::bigint, 'completed'), (%s, 'completed'), (%s, 'completed')$$, :p5, :u3, :v1),
  'the three complete');
select is(pg_stat_get_xact_function_calls('pgrun._end_attempts'::regproc), null::bigint,
  'in one statement: the long way was not taken');
select results_eq(
  format($$select id, state, result, finished_at, keep_until, locked_at, locked_by from pgrun._private_jobs
           where id in (%s, %s, %s) order by id$$, :p5, :u3, :v1),
  format($$values (%s::bigint, 'completed'::text, '{"n": 5}'::jsonb, now(), now() + interval '1 day',
                   null::timestamptz, null::text),
                  (%s, 'completed', '"v"', now(), null, null, null)$$, :p5, :v1),
  'p5 is kept a day with its result (the default rule), v1 until removed (its task''s rule keeps '
  'forever), u3 is gone (its task''s rule keeps nothing)');
select results_eq(
  format($$select task_identifier, sum(completed)::integer from pgrun._private_outcome_minutes
           where worker_id = %L and task_identifier in ('u', 'v') group by task_identifier order by 1$$,
         pgrun_tests.worker(1)),
  $$values ('u'::text, 3), ('v', 1)$$,
  'kept and deleted completions are both counted');

-- TEST: under retention a batch mixing plain and queued jobs takes the one
-- statement too, each kept by its own rule (queue r's rule beats the default)
select pgrun.set_retention(interval '1 hour', null, null, queue_name => 'r');
select id as p6 from pgrun.add_job('t') \gset
select id as q2 from pgrun.add_job('t', queue_name => 'q') \gset
select id as r1 from pgrun.add_job('t', queue_name => 'r') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 3)), 3, 'setup: worker 1 claims p6, q2 and r1');
select set_eq(
  format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s, %s, %s]::bigint[],
             array[%s, %s, %s]::bigint[], array[null, '7', null]::jsonb[])$$,
         pgrun_tests.worker(1), :p6, :q2, :r1, pgrun_tests.lease(:p6), pgrun_tests.lease(:q2),
         pgrun_tests.lease(:r1)),
  format($$values (%s::bigint, 'completed'), (%s, 'completed'), (%s, 'completed')$$, :p6, :q2, :r1),
  'the three complete');
select results_eq(
  format($$select id, state, result, keep_until from pgrun._private_jobs where id in (%s, %s, %s) order by id$$,
         :p6, :q2, :r1),
  format($$values (%s::bigint, 'completed'::text, null::jsonb, now() + interval '1 day'),
                  (%s, 'completed', '7', now() + interval '1 day'),
                  (%s, 'completed', null, now() + interval '1 hour')$$, :p6, :q2, :r1),
  'the plain one and q2 are kept a day (q2 with its result), r1 an hour by its queue''s rule');
select results_eq($$select queue_name, running from pgrun._private_job_queues where queue_name in ('q', 'r') order by 1$$,
  $$values ('q'::text, 0), ('r', 0)$$, 'queues q and r run nothing again');
select is(pg_stat_get_xact_function_calls('pgrun._end_attempts'::regproc), null::bigint,
  'the queued jobs did not take the long way either');

-- TEST: ids and leases of different lengths are refused, naming both
select throws_ok(
  format($$select * from pgrun.complete_attempts(%L, array[1, 2]::bigint[], array[1]::bigint[])$$,
         pgrun_tests.worker(1)),
  '22023', 'job_ids and leases must have the same length (2 and 1)',
  'a lease missing for an id is refused');

select finish();
rollback;
