begin;
select plan(6);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- The claim looks up closed limit keys only when a first pass locked jobs
-- their keys held back (0200_claim.sql); a second pass steps over those keys'
-- jobs. Jobs without a queue, older ones first: each key's jobs stand ahead.

-- TEST: a full key's backlog ahead: the jobs behind it are claimed, in one claim
select pgrun.set_limit('hub', max_running => 1);
select pgrun.add_job('t', limit_keys => array['hub'], run_at => now() - interval '2 hours') from generate_series(1, 6);
select is((select count(*)::integer from pgrun_tests.claim(1, 1, array['t'])), 1, 'setup: hub runs one');
select pgrun.add_job('t', run_at => now() - interval '1 hour') from generate_series(1, 3);
select results_eq($$select j.limit_keys is null, count(*)::integer from pgrun_tests.claim(1, 4, array['t']) as c
                    join pgrun._private_jobs as j using (id) group by 1$$,
  $$values (true, 3)$$, 'a claim of 4 takes the three jobs behind the five hub holds back');

-- TEST: a key with room for one: one of its jobs, and the rest that fit (a short claim)
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun.set_limit('hub', max_running => 1);
select pgrun.add_job('t', limit_keys => array['hub'], run_at => now() - interval '2 hours') from generate_series(1, 3);
select pgrun.add_job('t', run_at => now() - interval '1 hour') from generate_series(1, 3);
select results_eq($$select j.limit_keys is null, count(*)::integer from pgrun_tests.claim(1, 4, array['t']) as c
                    join pgrun._private_jobs as j using (id) group by 1 order by 1$$,
  $$values (false, 1), (true, 1)$$, 'one hub job and the one plain job locked beside the three of hub');
select is((select count(*)::integer from pgrun_tests.claim(1, 4, array['t'])), 2,
  'the next claim steps over hub, full now, and takes the two plain jobs left');

-- TEST: keys closed by a spent rate and by a RateLimited pause are stepped over too
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun.set_limit('feed', max_per_period => 1, period => '1 hour');
select pgrun.add_job('t', limit_keys => array['feed'], run_at => now() - interval '3 hours') from generate_series(1, 4);
select pgrun.add_job('t', limit_keys => array['provider'], run_at => now() - interval '3 hours') from generate_series(1, 4);
select pgrun.pause_limit_key('provider', '10 minutes');
select pgrun.add_job('t', run_at => now() - interval '1 hour') from generate_series(1, 3);
select results_eq($$select coalesce(j.limit_keys[1], '-'), count(*)::integer from pgrun_tests.claim(1, 5, array['t']) as c
                    join pgrun._private_jobs as j using (id) group by 1 order by 1$$,
  $$values ('-', 1), ('feed', 1)$$,
  'one start of feed (its other three locked beside it), none of the paused provider, one plain job');
select results_eq($$select coalesce(j.limit_keys[1], '-'), count(*)::integer from pgrun_tests.claim(1, 5, array['t']) as c
                    join pgrun._private_jobs as j using (id) group by 1 order by 1$$,
  $$values ('-', 2)$$, 'the next claim steps over feed, its hour used, and the paused provider');

select finish();
rollback;
