begin;
select plan(6);
select pgrun_tests.reset();

-- A worker's run of beats (beating_since) starts again after any gap longer
-- than 1.5 intervals; it may reap others only once that run is a full lease
-- timeout long (see reap_workers).

-- SETUP: worker 1 beats every 5 s
select pgrun_tests.register(1, now() - interval '1 minute');

-- TEST: beats within 1.5 intervals keep the run
select pgrun.heartbeat(pgrun_tests.worker(1), now => now() - interval '1 minute' + interval '5 seconds');
select pgrun.heartbeat(pgrun_tests.worker(1), now => now() - interval '1 minute' + interval '12.5 seconds');
select is((select beating_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)),
  now() - interval '1 minute', 'gaps of 5 s and 7.5 s (1.5 intervals) keep the run going');

-- TEST: a longer gap starts a new run at that beat
select pgrun.heartbeat(pgrun_tests.worker(1), now => now() - interval '1 minute' + interval '20.6 seconds');
select is((select beating_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)),
  now() - interval '1 minute' + interval '20.6 seconds', 'a gap of 8.1 s starts the run again');
select is((select last_heartbeat_at from pgrun._private_workers where worker_id = pgrun_tests.worker(1)),
  now() - interval '1 minute' + interval '20.6 seconds', 'the beat itself is recorded');

-- TEST: the run is measured in the worker's own interval
select pgrun_tests.register(2, now() - interval '1 minute', interval '20 seconds', interval '1 minute');
select pgrun.heartbeat(pgrun_tests.worker(2), now => now() - interval '30 seconds');
select is((select beating_since from pgrun._private_workers where worker_id = pgrun_tests.worker(2)),
  now() - interval '1 minute', 'with 20 s beats a 30 s gap keeps the run');

-- TEST: record_heartbeat, schema 1's beat, follows the same rule
select pgrun.record_heartbeat(pgrun_tests.worker(1), now => now() - interval '1 minute' + interval '25 seconds');
select is((select beating_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)),
  now() - interval '1 minute' + interval '20.6 seconds', 'a 4.4 s gap keeps the run');
select pgrun.record_heartbeat(pgrun_tests.worker(1), now => now());
select is((select beating_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)),
  now(), 'a 35 s gap starts it again');

select finish();
rollback;
