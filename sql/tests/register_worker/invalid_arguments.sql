begin;
select plan(10);
select pgrun_tests.reset();

-- TEST: a worker id is 10 to 128 characters
select throws_ok($$select pgrun.register_worker(null)$$,
  '22023', 'worker_id must be 10 to 128 characters (got NULL)', 'a null worker id is refused');
select throws_ok($$select pgrun.register_worker('worker-01')$$,
  '22023', 'worker_id must be 10 to 128 characters (got ''worker-01'')', 'a 9-character worker id is refused');
select throws_ok(format('select pgrun.register_worker(%L)', repeat('w', 129)),
  '22023', format('worker_id must be 10 to 128 characters (got %L)', repeat('w', 129)), 'a 129-character worker id is refused');

-- TEST: the heartbeat interval is positive
select throws_ok($$select pgrun.register_worker('worker-0001', heartbeat_interval => null)$$,
  '22023', 'heartbeat_interval must be positive (got NULL)', 'a null interval is refused');
select throws_ok($$select pgrun.register_worker('worker-0001', heartbeat_interval => interval '0')$$,
  '22023', 'heartbeat_interval must be positive (got ''00:00:00'')', 'a zero interval is refused');
select throws_ok($$select pgrun.register_worker('worker-0001', heartbeat_interval => interval '-5 seconds')$$,
  '22023', 'heartbeat_interval must be positive (got ''-00:00:05'')', 'a negative interval is refused');

-- TEST: the lease timeout is at least two beats
select throws_ok($$select pgrun.register_worker('worker-0001', lease_timeout => null)$$,
  '22023', 'lease_timeout must be at least twice heartbeat_interval (got NULL and 00:00:05)', 'a null timeout is refused');
select throws_ok($$select pgrun.register_worker('worker-0001', heartbeat_interval => interval '5 seconds',
                                                lease_timeout => interval '9 seconds')$$,
  '22023', 'lease_timeout must be at least twice heartbeat_interval (got ''00:00:09'' and 00:00:05)',
  'a timeout shorter than two beats is refused');

-- TEST: a reaped worker may not come back under its id (PGR01)
select pgrun.register_worker('worker-0002');
select pgrun.force_unlock_workers(array['worker-0002']);
select throws_ok($$select pgrun.register_worker('worker-0002')$$,
  'PGR01', format('worker worker-0002 was presumed dead by an admin at %s and its jobs were released; register again under a new id', now()),
  'a reaped id is refused');

-- TEST: nothing refused was registered
select set_eq($$select worker_id from pgrun._private_workers$$, $$values ('worker-0002')$$,
  'only the reaped worker''s row exists');

select finish();
rollback;
