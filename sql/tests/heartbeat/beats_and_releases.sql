begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: worker 2 claimed a job and then went silent 30 s ago
select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() - interval '30 seconds');
select id as job_id from pgrun.add_job('t') \gset
select is((pgrun.get_job(pgrun_tests.worker(2))).id, :job_id::bigint, 'setup: worker 2 holds the job');

-- TEST: one call records worker 1's beat and releases worker 2's job
select results_eq(
  $$select dead_worker_id, released_jobs from pgrun.heartbeat(pgrun_tests.worker(1))$$,
  $$values (pgrun_tests.worker(2), 1)$$,
  'heartbeat reports the dead worker and its released job');
select is((select last_heartbeat_at from pgrun._private_workers where worker_id = pgrun_tests.worker(1)),
  now(), 'worker 1''s beat is recorded');
select is((select locked_by from pgrun.jobs where id = :job_id), null, 'the job is free again');

-- TEST: bad worker ids are refused as by record_heartbeat
select throws_ok($$select pgrun.heartbeat('short')$$, '22023',
  'worker_id must be at least 10 characters (got ''short'')', 'a short worker id is refused');

select finish();
rollback;
