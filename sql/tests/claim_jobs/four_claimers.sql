begin;
select plan(8);
create extension if not exists dblink;

-- Claim vs claim: four real sessions claim at the same moment, round after
-- round, each inside an open transaction that commits only once all four
-- have claimed. Queue "one" may run 1 job at a time, queue "three" 3.
-- This session only watches.
select pgrun_tests.four_sessions();  -- c1..c4, workers 1..4, claims and stalls

-- SETUP (committed): 6 jobs in "one", 9 in "three", 8 without a queue
select pgrun_tests.run('c1', $$select pgrun_tests.add_queue('one', 1)$$);
select pgrun_tests.run('c1', $$select pgrun_tests.add_queue('three', 3)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'one') from generate_series(1, 6)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'three') from generate_series(1, 9)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t') from generate_series(1, 8)$$);

-- Six rounds: all four begin, send their claims at once, then collect them;
-- the transactions stay open until every claim is in, then all commit and
-- each completes what it claimed (pgrun_tests.four_claims_round).
select pgrun_tests.four_claims_round(r, 4) from generate_series(1, 6) as r;

-- TEST: no claim waited for another
select is_empty($$select * from stalls$$, 'every claim came back at once, in every round');

-- TEST: no job was claimed twice, and every job was claimed
select is((select count(*) - count(distinct id) from claims), 0::bigint, 'no job was claimed twice');
select is((select count(distinct id)::integer from claims), 23, 'all 23 jobs were claimed over the six rounds');

-- TEST: the queues' limits held while the four claims were in flight together
select is((select max(n)::integer from (select count(*) as n from claims where queue_name = 'one' group by round) as x),
  1, 'never more than one job of queue "one" at once');
select is((select max(n)::integer from (select count(*) as n from claims where queue_name = 'three' group by round) as x),
  3, 'never more than three jobs of queue "three" at once, and three when it could');
select is((select count(*)::integer from claims where queue_name = 'one'), 6,
  'queue "one" ran one job in each round');

-- TEST: the counters came back exact after all those claims and completions
select is((select count(*)::integer from pgrun.jobs), 0, 'every job completed');
select results_eq($$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('one', 0), ('three', 0)$$, 'both queues count nothing running');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('c1', 'select pgrun_tests.reset()');
select dblink_disconnect('c' || n) from generate_series(1, 4) as n;

select finish();
rollback;
