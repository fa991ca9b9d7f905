begin;
select plan(10);
create extension if not exists dblink;

-- The claim's queue side locks a limited key's jobs beyond its first turn only
-- when they may be taken (0190_pick_jobs.sql): each listed key first gives its
-- share of the jobs wanted, and all of its room only when a key it cut short
-- may hold a job better than the last one wanted. What a claim takes is what
-- it took with every key's room locked. Sessions c1..c4 (dblink) commit what
-- they do; this session only watches.
select pgrun_tests.four_sessions();  -- c1..c4, workers 1..4, claims and stalls

-- TEST: many limited keys: the first job of each of the oldest keys, and no more locked
select pgrun_tests.run('c1', $$select pgrun.set_limit('tenant:*', max_running => 2)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'tenant:' || q,
                                                    payload => json_build_object('n', n))
                               from generate_series(1, 12) as q, generate_series(1, 3) as n order by n, q$$);
select dblink_exec('c1', 'begin');
create temporary table taken as
  select * from dblink('c1', format(
    $$select j.queue_name, (j.payload ->> 'n')::integer from pgrun.claim_jobs(%L, 4, array['t']) as c
      join pgrun._private_jobs as j using (id)$$, pgrun_tests.worker(1))) as t(queue_name text, n integer);
select results_eq($$select queue_name, n from taken order by 1$$,
  $$values ('tenant:1', 1), ('tenant:2', 1), ('tenant:3', 1), ('tenant:4', 1)$$,
  'a claim of 4 over 12 keys of room 2 takes the first job of the 4 oldest keys');
-- (12 keys visited, one job locked in each: 8 left over, locked until commit)
select is((select t.n from dblink('c2', $$select count(*)::integer from (
             select j.id from pgrun._private_jobs as j where j.state = 'available'
             for update skip locked) as x$$) as t(n integer)), 36 - 4 - 8,
          'the open claim holds the first job of each key it visited, not their second');
select dblink_exec('c1', 'commit');
select is((select t.n from dblink('c2', 'select count(*)::integer from pgrun_tests.unlisted_queues()')
           as t(n integer)), 0, 'every key with room and jobs is still listed');

-- TEST: a key cut short whose next job is better than the last one wanted gives its room
select pgrun_tests.run('c1', 'select pgrun_tests.reset()');
select pgrun_tests.run('c1', 'select pgrun_tests.register(1)');
select pgrun_tests.run('c1', $$select pgrun.set_limit('tenant:*', max_running => 5)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'tenant:' || q)
                               from generate_series(1, 10) as q$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'tenant:urgent', priority => -5)
                               from generate_series(1, 3)$$);
select results_eq($$select * from dblink('c1', format(
                      'select j.queue_name, j.priority, count(*)::integer from pgrun_tests.claim(1, 4, array[''t'']) as c
                       join pgrun._private_jobs as j using (id) group by 1, 2 order by 2, 1'))
                    as t(queue_name text, priority smallint, n integer)$$,
  $$values ('tenant:urgent', -5::smallint, 3), ('tenant:1', 0::smallint, 1)$$,
  'priority first across keys: all three urgent jobs, then the oldest other key''s');

-- TEST: few keys: the big key fills the claim after the small key's first turn
select pgrun_tests.run('c1', 'select pgrun_tests.reset()');
select pgrun_tests.run('c1', 'select pgrun_tests.register(1)');
select pgrun_tests.run('c1', $$select pgrun.set_limit('tenant:*', max_running => 10)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'tenant:big') from generate_series(1, 20)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'tenant:small')$$);
select results_eq($$select * from dblink('c1',
                      'select j.queue_name, count(*)::integer from pgrun_tests.claim(1, 10, array[''t'']) as c
                       join pgrun._private_jobs as j using (id) group by 1 order by 1')
                    as t(queue_name text, n integer)$$,
  $$values ('tenant:big', 9), ('tenant:small', 1)$$,
  'a claim of 10 over two keys is full: one of the small key, nine of the big one');

-- TEST: four claimers at once over 30 keys of room 2 (pgrun_tests.four_claims_round)
select pgrun_tests.run('c1', 'select pgrun_tests.reset()');
select pgrun_tests.run('c1', format('select pgrun_tests.register(%s)', n)) from generate_series(1, 4) as n;
select pgrun_tests.run('c1', $$select pgrun.set_limit('tenant:*', max_running => 2)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'tenant:' || q)
                               from generate_series(1, 30) as q, generate_series(1, 3) order by 1$$);
select pgrun_tests.four_claims_round(r, 10) from generate_series(1, 8) as r;
select is_empty($$select * from stalls$$, 'every claim came back at once, in every round');
select is((select count(*) - count(distinct id) from claims), 0::bigint, 'no job was claimed twice');
select is((select max(n) <= 2 from (select count(*) as n from claims group by round, queue_name) as x), true,
  'never more than two jobs of a key in a round');
select is((select count(*)::integer from claims), 90, 'all 90 jobs ran within eight rounds');
select is((select t.exact from dblink('c1', 'select pgrun_tests.counters_exact()') as t(exact boolean)), true,
  'every key''s running counter equals its running jobs');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('c1', 'select pgrun_tests.reset()');
select dblink_disconnect('c' || n) from generate_series(1, 4) as n;

select finish();
rollback;
