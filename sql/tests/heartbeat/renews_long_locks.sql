begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: worker 1, alive, has been running a queued job for 3 hours; a short one for 10 minutes
select id as long_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '1 minute') \gset
select id as short_id from pgrun.add_job('t') \gset
select is((select count(*)::int from pgrun.get_jobs(pgrun_tests.worker(1), max_jobs => 2)), 2,
  'setup: worker 1 holds both jobs');
select pgrun_tests.age_lock(:long_id, interval '3 hours');
update pgrun._private_jobs set locked_at = now() - interval '10 minutes' where id = :short_id;

-- TEST: its heartbeat renews the lock that is over an hour old, and that job's queue lock
select pgrun.heartbeat(pgrun_tests.worker(1));
select is((select locked_at from pgrun.jobs where id = :long_id), now(), 'the 3-hour lock is renewed');
select is((select locked_at from pgrun._private_job_queues where queue_name = 'q'), now(),
  'its queue lock is renewed');
select is((select locked_at from pgrun.jobs where id = :short_id), now() - interval '10 minutes',
  'a recent lock is left alone');

-- TEST: so the 4-hour expiry does not hand a live worker's long job to another worker
select is_empty(
  format($$select from pgrun.get_jobs(%L, now => now() + interval '2 hours')$$, pgrun_tests.worker(2)),
  'two hours later the long job is still not claimable by another worker');

select finish();
rollback;
