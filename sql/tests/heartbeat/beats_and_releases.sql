begin;
select plan(9);
select pgrun_tests.reset();

-- SETUP: workers 1 and 2 registered a minute ago; worker 1 has beaten every
-- 5 s since; worker 2 claimed a job and went silent 30 s ago
select pgrun_tests.register(1, now() - interval '1 minute');
select pgrun_tests.register(2, now() - interval '1 minute');
select pgrun_tests.beat_steadily(1, now() - interval '1 minute', now() - interval '5 seconds');
select id as job_id from pgrun.add_job('t', run_at => now() - interval '1 minute') \gset
select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() - interval '45 seconds');
select is((select id from pgrun.claim_jobs(pgrun_tests.worker(2), 1, now => now() - interval '40 seconds')
           where id is not null), :job_id::bigint, 'setup: worker 2 holds the job');
select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() - interval '30 seconds');

-- TEST: one call records worker 1's beat, reaps worker 2 and releases its job
select results_eq(
  $$select dead_worker_id, released_jobs from pgrun.heartbeat(pgrun_tests.worker(1))$$,
  $$values (pgrun_tests.worker(2), 1)$$,
  'heartbeat reports the dead worker and its released job');
select is((select last_heartbeat_at from pgrun._private_workers where worker_id = pgrun_tests.worker(1)),
  now(), 'worker 1''s beat is recorded');
select results_eq(
  format('select state, locked_by, attempts from pgrun.jobs where id = %s', :job_id),
  $$values ('available', null::text, 1::smallint)$$,
  'the job is available again, its lost attempt counted');
select results_eq(
  $$select reaped_at, reaped_by from pgrun._private_workers where worker_id = pgrun_tests.worker(2)$$,
  $$values (now(), pgrun_tests.worker(1))$$,
  'worker 2''s row stays, marked as reaped by worker 1, so that it learns it');

-- TEST: a second beat finds nobody else to reap
select is_empty($$select from pgrun.heartbeat(pgrun_tests.worker(1))$$, 'the next beat reaps nothing');

-- TEST: bad worker ids are refused, in the words the claim uses
select throws_ok($$select pgrun.heartbeat('short')$$, '22023',
  'worker_id must be at least 10 characters (got ''short'')', 'a short worker id is refused');
select throws_ok($$select pgrun.heartbeat(null)$$, '22023',
  'worker_id must be at least 10 characters (got NULL)', 'a null worker id is refused');
select throws_ok(format('select pgrun.heartbeat(%L)', pgrun_tests.worker(9)), 'PGR02',
  format('worker %s is not registered; call register_worker first', pgrun_tests.worker(9)),
  'a worker that never registered has no lease to renew');

select finish();
rollback;
