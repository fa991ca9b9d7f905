begin;
select plan(6);
select pgrun_tests.reset();

-- TEST: a worker registers with its settings and a fresh lease
select pgrun.register_worker('worker-0001', '{"host": "a"}', interval '2 seconds', interval '10 seconds',
  now() - interval '1 minute');
select results_eq(
  $$select started_at, last_heartbeat_at, beating_since, heartbeat_interval, lease_timeout, info,
           reaped_at, idle_since, protocol from pgrun._private_workers where worker_id = 'worker-0001'$$,
  $$values (now() - interval '1 minute', now() - interval '1 minute', now() - interval '1 minute',
            interval '2 seconds', interval '10 seconds', '{"host": "a"}'::jsonb, null::timestamptz,
            null::timestamptz, 2::smallint)$$,
  'started, beat and beating since now; its interval and timeout; its info; not reaped, not idle; protocol 2');

-- TEST: defaults: 5 s beats, a 20 s lease, info {}
select pgrun.register_worker('worker-0002');
select results_eq(
  $$select heartbeat_interval, lease_timeout, info from pgrun._private_workers where worker_id = 'worker-0002'$$,
  $$values (interval '5 seconds', interval '20 seconds', '{}'::jsonb)$$, 'the defaults');

-- TEST: registering a live id again renews it and takes the new settings, keeping its start
select pgrun.register_worker('worker-0001', null, interval '1 second', interval '3 seconds');
select results_eq(
  $$select started_at, last_heartbeat_at, heartbeat_interval, lease_timeout, info
    from pgrun._private_workers where worker_id = 'worker-0001'$$,
  $$values (now() - interval '1 minute', now(), interval '1 second', interval '3 seconds', '{"host": "a"}'::jsonb)$$,
  'a second registration renews the lease and the settings; a null info keeps the old one');
select is((select count(*)::integer from pgrun._private_workers), 2, 'still one row per worker');

-- TEST: a schema-1 row (protocol 1) becomes a schema-2 worker when its runner registers
update pgrun._private_workers set protocol = 1 where worker_id = 'worker-0002';
select pgrun.register_worker('worker-0002');
select is((select protocol from pgrun._private_workers where worker_id = 'worker-0002'), 2::smallint,
  'protocol 2 after registering');
select lives_ok($$select * from pgrun.claim_jobs('worker-0002', 1)$$, 'and it may claim');

select finish();
rollback;
