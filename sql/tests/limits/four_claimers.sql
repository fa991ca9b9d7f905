begin;
select plan(8);
create extension if not exists dblink;

-- Claim vs claim under limits: four real sessions claim at the same moment,
-- round after round, each inside an open transaction that commits only once
-- all four have claimed (as claim_jobs/four_claimers.sql). Limit key "hub" may
-- run 3 jobs at once; "tenant:x" (a queue) and "hub" both hold the jobs of
-- tenant x; limit key "api" lets 5 start per hour. This session only watches.
select pgrun_tests.four_sessions();  -- c1..c4, workers 1..4, claims and stalls

-- SETUP (committed)
select pgrun_tests.run('c1', $$select pgrun.set_limit('hub', max_running => 3)$$);
select pgrun_tests.run('c1', $$select pgrun.set_limit('tenant:*', max_running => 2)$$);
select pgrun_tests.run('c1', $$select pgrun.set_limit('api', max_per_period => 5, period => '1 hour')$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', limit_keys => array['hub']) from generate_series(1, 12)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'tenant:x', limit_keys => array['hub'])
                               from generate_series(1, 4)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', limit_keys => array['api']) from generate_series(1, 12)$$);

-- what each job is subject to: 'hub', 'tenant:x' (and hub) or 'api'
create temporary table kinds as
  select * from dblink('c1', 'select id, coalesce(queue_name, limit_keys[1]) from pgrun._private_jobs')
    as t(id bigint, kind text);

-- Six rounds: all four claim (4 jobs each) at once inside open transactions;
-- after all commit, each completes what it claimed (pgrun_tests.four_claims_round).
select pgrun_tests.four_claims_round(r, 4) from generate_series(1, 6) as r;

-- TEST: no claim waited for another, none claimed a job twice
select is_empty($$select * from stalls$$, 'every claim came back at once, in every round');
select is((select count(*) - count(distinct id) from claims), 0::bigint, 'no job was claimed twice');

-- TEST: the limits held while the four claims were in flight together
select is((select max(n)::integer from (select count(*) as n from claims as c join kinds as k using (id)
                                        where k.kind in ('hub', 'tenant:x') group by c.round) as x),
  3, 'never more than three jobs of "hub" at once, across four claimers, and three when it could');
select is((select max(n)::integer from (select count(*) as n from claims as c join kinds as k using (id)
                                        where k.kind = 'tenant:x' group by c.round) as x),
  2, 'never more than two of "tenant:x", which "hub" holds too');
select is((select count(*)::integer from claims as c join kinds as k using (id) where k.kind = 'api'), 5,
  'five starts of "api" in its hour, whoever claimed');
select is((select count(*)::integer from claims as c join kinds as k using (id) where k.kind <> 'api'), 16,
  'every job of "hub" ran over the six rounds');

-- TEST: the counters came back exact
select is((select t.exact from dblink('c1', 'select pgrun_tests.counters_exact()') as t(exact boolean)), true,
  'every key''s running counter equals its running jobs');
select is((select t.running from dblink('c1', $$select running from pgrun._private_job_queues where queue_name = 'hub'$$)
           as t(running integer)), 0, 'hub counts nothing running');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('c1', 'select pgrun_tests.reset()');
select dblink_disconnect('c' || n) from generate_series(1, 4) as n;

select finish();
rollback;
