begin;
select plan(15);
select pgrun_tests.reset();
select pgrun_tests.register(1, now => '2030-01-01 00:00:00+00');
select pgrun_tests.beat_steadily(1, '2030-01-01 00:00:00+00', '2030-01-01 00:10:00+00');

-- SETUP: limit key "api": 3 starts per 10 s, no concurrency limit; queue "feed": 2 per 10 s,
-- burst 1 (at most one start in any 5 s); 10 jobs of each, all due
select pgrun.set_limit('api', max_per_period => 3, period => '10 seconds');
select pgrun.set_limit('feed', max_running => 5, max_per_period => 2, period => '10 seconds', burst => 1);
select pgrun.add_job('t', limit_keys => array['api'], run_at => '2029-12-31 00:00:00+00') from generate_series(1, 10);
select pgrun.add_job('f', queue_name => 'feed', run_at => '2029-12-31 00:00:00+00') from generate_series(1, 10);

create function pg_temp.claim_at(tasks text[], at timestamptz) returns integer language sql as $$
  select count(*)::integer from pgrun_tests.claim(1, 10, tasks, at);
$$;
create function pg_temp.due_in(tasks text[], at timestamptz) returns double precision language sql as $$
  select c.next_due_in from pgrun.claim_jobs(pgrun_tests.worker(1), 10, tasks, null, at) as c where c.id is null;
$$;

-- TEST: a limit key's rate: at most 3 starts in any 10 s window
select is(pg_temp.claim_at(array['t'], '2030-01-01 00:00:00+00'), 3, 'at 0 s: three start');
select is(pg_temp.claim_at(array['t'], '2030-01-01 00:00:09.9+00'), 0, 'at 9.9 s: none, the window is full');
select is(pg_temp.due_in(array['t'], '2030-01-01 00:00:04+00'), 6::double precision,
  'a short claim says when the budget refills: 6 s after 4 s');
select is(pg_temp.claim_at(array['t'], '2030-01-01 00:00:10+00'), 3, 'at 10 s: the first three left the window');
select is(pg_temp.claim_at(array['t'], '2030-01-01 00:00:15+00'), 0, 'at 15 s: none');
select is((select cardinality(starts) from pgrun._private_job_queues where queue_name = 'api'), 3,
  'the window keeps only the starts of the last 10 s');

-- TEST: list_limits shows the window, the room and until when
select results_eq($$select key, started_in_period, room, opens_at, waiting from pgrun.list_limits('2030-01-01 00:00:15+00')
                    where key = 'api'$$,
  $$values ('api', 3, 0, '2030-01-01 00:00:20+00'::timestamptz, 4::bigint)$$,
  'list_limits: 3 started in the window, no room, opens at 20 s, 4 waiting');

-- TEST: a queue's rate with a burst: one start per 5 s, two per 10 s
select is(pg_temp.claim_at(array['f'], '2030-01-01 00:00:00+00'), 1, 'feed at 0 s: one (burst 1)');
select is(pg_temp.claim_at(array['f'], '2030-01-01 00:00:04.9+00'), 0, 'feed at 4.9 s: none');
select is(pg_temp.due_in(array['f'], '2030-01-01 00:00:04+00'), 1::double precision, 'feed opens in 1 s');
select is(pg_temp.claim_at(array['f'], '2030-01-01 00:00:05+00'), 1, 'feed at 5 s: one more');
select is(pg_temp.claim_at(array['f'], '2030-01-01 00:00:10+00'), 1, 'feed at 10 s: the one of 0 s left: one');

-- TEST: a RateLimited pause: nothing of the key starts before its end, then the rate applies again
select pgrun.pause_limit_key('api', '30 seconds', now => '2030-01-01 00:00:20+00');
select is(pg_temp.claim_at(array['t'], '2030-01-01 00:00:49+00'), 0, 'paused until 50 s: none at 49 s');
select is(pg_temp.due_in(array['t'], '2030-01-01 00:00:45+00'), 5::double precision, 'the pause ends in 5 s');
select is(pg_temp.claim_at(array['t'], '2030-01-01 00:00:50+00'), 3, 'at 50 s: three start again');

select finish();
rollback;
