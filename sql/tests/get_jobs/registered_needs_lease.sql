begin;
select plan(6);
select pgrun_tests.reset();
select pgrun.add_job('t') from generate_series(1, 3);

-- TEST: a worker that never registered claims as under Graphile Worker
select is((select count(*)::integer from pgrun.get_jobs('graphile-style-worker', max_jobs => 2)), 2,
  'an unregistered worker claims through get_jobs');
select is((select count(*)::integer from pgrun._private_jobs where locked_by = 'graphile-style-worker' and lease is not null), 2,
  'its jobs run under a lease all the same');

-- TEST: a registered worker needs its live lease for get_jobs and get_job too
select pgrun_tests.register(1, now() - interval '30 seconds');
select throws_ok(format('select * from pgrun.get_jobs(%L)', pgrun_tests.worker(1)),
  'PGR02', format('worker %s has no live lease: its last heartbeat was at %s, more than %s ago',
                  pgrun_tests.worker(1), now() - interval '30 seconds', interval '20 seconds'),
  'get_jobs refuses a registered worker whose lease ran out');
select throws_ok(format('select * from pgrun.get_job(%L)', pgrun_tests.worker(1)),
  'PGR02', format('worker %s has no live lease: its last heartbeat was at %s, more than %s ago',
                  pgrun_tests.worker(1), now() - interval '30 seconds', interval '20 seconds'),
  'so does get_job');
select pgrun.heartbeat(pgrun_tests.worker(1));
select is((select count(*)::integer from pgrun.get_jobs(pgrun_tests.worker(1), max_jobs => 5)), 1,
  'after a beat it claims what is left');

-- TEST: only unregistered workers' locks expire after job_expiry
select pgrun_tests.age_lock(id, interval '5 hours') from pgrun._private_jobs where state = 'running';
select set_eq($$select locked_by from pgrun.get_jobs('another-graphile-worker', max_jobs => 5)$$,
  $$values ('another-graphile-worker'), ('another-graphile-worker')$$,
  'the unregistered worker''s two jobs are reclaimed after 5 hours; the registered worker''s job is not');

select finish();
rollback;
