begin;
select plan(17);
create extension if not exists dblink;

-- Completions of queued jobs take the one-statement path
-- (_end_plain_completions) when no other rule concerns them: the queue's
-- row is locked with the jobs (skipping one another transaction holds), its
-- running count goes down, and a queue that was full is listed again
-- (_give_queue_room). A job with a limit key still goes the long way.

-- Which of these functions this transaction called, and how often
-- (track_functions, set below, counts calls in the transaction's statistics).
create temporary table calls_before (funcname text, calls bigint);
create function pg_temp.calls_since(fn text) returns bigint language sql as $$
  select coalesce(sum(pg_stat_get_xact_function_calls(p.oid)), 0)
         - coalesce((select b.calls from calls_before as b where b.funcname = calls_since.fn), 0)
  from pg_proc as p where p.proname = calls_since.fn and p.pronamespace = 'pgrun'::regnamespace;
$$;
create function pg_temp.mark_calls() returns void language sql as $$
  delete from calls_before;
  insert into calls_before
  select p.proname, sum(pg_stat_get_xact_function_calls(p.oid)) from pg_proc as p
  where p.pronamespace = 'pgrun'::regnamespace group by p.proname;
$$;
set local track_functions = 'pl';

select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun.set_limit('tenant-*', max_running => 2);

-- SETUP: tenant-1 (limit 2) has three jobs, worker 1 runs two: tenant-1 is full
select id as a1 from pgrun.add_job('t', queue_name => 'tenant-1', run_at => now() - interval '3 minutes') \gset
select id as a2 from pgrun.add_job('t', queue_name => 'tenant-1', run_at => now() - interval '2 minutes') \gset
select id as a3 from pgrun.add_job('t', queue_name => 'tenant-1', run_at => now() - interval '1 minute') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 2)), 2, 'setup: worker 1 claims two of tenant-1');
select is_empty($$select from pgrun_tests.listed() where queue_name = 'tenant-1'$$, 'setup: full tenant-1 is not listed');

-- TEST: one of them completes in one statement, and tenant-1 is listed again with its next job
select pg_temp.mark_calls();
select results_eq(
  format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
         pgrun_tests.worker(1), :a1, pgrun_tests.lease(:a1)),
  format($$values (%s::bigint, 'completed')$$, :a1), 'a1 completes');
select is(pg_temp.calls_since('_lock_attempts') + pg_temp.calls_since('_end_attempts'), 0::bigint,
  'through the one-statement path: neither _lock_attempts nor _end_attempts was called');
select is(pg_temp.calls_since('_give_queue_room'), 1::bigint, 'its queue got its room back in one call');
select is(pgrun_tests.state(:a1), null, 'a1 is gone');
select is((select running from pgrun._private_job_queues where queue_name = 'tenant-1'), 1,
  'tenant-1 counts one running');
select results_eq($$select * from pgrun_tests.listed() where queue_name = 'tenant-1'$$,
  format($$values ('tenant-1', %s::bigint)$$, :a3), 'tenant-1 is listed again, with a3');
select is((select sum(completed)::integer from pgrun._private_outcome_minutes where worker_id = pgrun_tests.worker(1)),
  1, 'the outcome rollup counts it');

-- TEST: a plain and a queued job in one batch both go the short way
select id as p1 from pgrun.add_job('t', run_at => now() - interval '10 minutes') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 2)), 2, 'setup: worker 1 claims p1 and a3');
select pg_temp.mark_calls();
select set_eq(
  format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s, %s, %s]::bigint[],
                                                                array[%s, %s, %s]::bigint[])$$,
         pgrun_tests.worker(1), :p1, :a2, :a3, pgrun_tests.lease(:p1), pgrun_tests.lease(:a2), pgrun_tests.lease(:a3)),
  format($$values (%s::bigint, 'completed'), (%s, 'completed'), (%s, 'completed')$$, :p1, :a2, :a3),
  'p1, a2 and a3 complete');
select is(pg_temp.calls_since('_end_attempts'), 0::bigint, 'none of them took the long way');
select ok(pgrun_tests.counters_exact() and not exists (select from pgrun._private_jobs),
  'nothing is left and tenant-1 counts nothing running');

-- TEST: a queued job with a limit key goes the long way, and both its counters go down
select pgrun.set_limit('hub', max_running => 5);
select id as h1 from pgrun.add_job('t', queue_name => 'tenant-2', limit_keys => array['hub']) \gset
select is((select id from pgrun_tests.claim(1, 1)), :h1::bigint, 'setup: worker 1 claims h1 (tenant-2 and hub)');
select pg_temp.mark_calls();
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[:h1]::bigint[],
                                                       array[pgrun_tests.lease(:h1)])),
  'completed', 'h1 completes');
select is(pg_temp.calls_since('_end_attempts'), 1::bigint, 'through _end_attempts, which counts limit keys');
select results_eq($$select queue_name, running from pgrun._private_job_queues
                    where queue_name in ('tenant-2', 'hub') order by 1$$,
  $$values ('hub'::text, 0), ('tenant-2', 0)$$, 'hub and tenant-2 count nothing running');

select finish();
rollback;
