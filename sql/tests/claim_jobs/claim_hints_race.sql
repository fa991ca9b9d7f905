begin;
select plan(7);
create extension if not exists dblink;

-- Claim vs claim in hint mode (0185_claim_hints.sql): four real sessions claim
-- at the same moment, round after round, each inside an open transaction that
-- commits only once all four have claimed; every scan from the start counts
-- as slow and hints are never refreshed (committed settings, removed at the
-- end). This session only watches.
select pgrun_tests.four_sessions();  -- c1..c4, workers 1..4, claims and stalls
select pgrun_tests.run('c1', 'select pgrun_tests.force_claim_hints()');

-- SETUP (committed): 60 jobs without a queue
select pgrun_tests.run('c1', $$select pgrun.add_job('t') from generate_series(1, 60)$$);

-- Three rounds of three jobs each: 36 jobs claimed, each session in hint mode
select pgrun_tests.four_claims_round(r, 3) from generate_series(1, 3) as r;
select is((select count(*)::integer from generate_series(1, 4) as n
           where pgrun_tests.run('c' || n, $$select where current_setting('pgrun.claim_hint', true) > ''$$) = 1),
  4, 'every session claims in hint mode');

-- Then a job of a better priority, behind every hint. Every job not claimed
-- is after every hint (each job before a session's hint was claimed by it or
-- locked by another claimer, who claimed it), so the hinted scans of the
-- next two rounds find enough for the 24 left, and those of the last round
-- come back short and scan from the start.
select pgrun_tests.run('c1', $$select pgrun.add_job('t', priority => -1)$$);
select id as better_id from pgrun._private_jobs where priority = -1 \gset
select pgrun_tests.four_claims_round(r, 3) from generate_series(4, 6) as r;

-- TEST: no claim waited for another
select is_empty($$select * from stalls$$, 'every claim came back at once, in every round');

-- TEST: no job was claimed twice, and every job was claimed
select is((select count(*) - count(distinct id) from claims), 0::bigint, 'no job was claimed twice');
select is((select count(distinct id)::integer from claims), 61, 'all 61 jobs were claimed over the six rounds');
select is((select count(*)::integer from pgrun.jobs), 0, 'every job completed');

-- TEST: the better job waited while hinted scans found enough, not longer
select results_eq($$select round, count(*)::integer from claims where round > 3 group by round order by round$$,
  $$values (4, 12), (5, 12), (6, 1)$$, 'the rounds after took the 24 jobs after the hints, then the one behind');
select is((select round from claims where id = :better_id), 6,
  'the job of a better priority was claimed by the first short hinted scans');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('c1', 'select pgrun_tests.reset()');
select dblink_disconnect('c' || n) from generate_series(1, 4) as n;

select finish();
rollback;
