begin;
select plan(7);
select pgrun_tests.reset();

-- TEST: the first heartbeat registers the worker
select pgrun.record_heartbeat(pgrun_tests.worker(1), '{"host": "a"}', now() - interval '10 seconds');
select results_eq(
  $$select worker_id, started_at, last_heartbeat_at, info from pgrun._private_workers$$,
  format($$values (%L, now() - interval '10 seconds', now() - interval '10 seconds', '{"host": "a"}'::jsonb)$$,
         pgrun_tests.worker(1)),
  'a row with started_at = last_heartbeat_at = now and the info');

-- TEST: later heartbeats move last_heartbeat_at only
select pgrun.record_heartbeat(pgrun_tests.worker(1), now => now() - interval '5 seconds');
select results_eq(
  $$select started_at, last_heartbeat_at, info from pgrun._private_workers$$,
  $$values (now() - interval '10 seconds', now() - interval '5 seconds', '{"host": "a"}'::jsonb)$$,
  'last_heartbeat_at moves; started_at stays; a null info keeps the old info');
select pgrun.record_heartbeat(pgrun_tests.worker(1), '{"host": "b"}');
select results_eq(
  $$select started_at, last_heartbeat_at, info from pgrun._private_workers$$,
  $$values (now() - interval '10 seconds', now(), '{"host": "b"}'::jsonb)$$,
  'a given info replaces the old one; now defaults to now()');
select is((select count(*)::integer from pgrun._private_workers), 1, 'still one row for the worker');

-- TEST: each worker has its own row
select pgrun.record_heartbeat(pgrun_tests.worker(2));
select is((select info from pgrun._private_workers where worker_id = pgrun_tests.worker(2)), '{}'::jsonb,
  'a second worker gets its own row, info defaulting to {}');

-- TEST: a worker_id shorter than 10 characters is refused
select throws_ok($$select pgrun.record_heartbeat('short')$$,
  '22023', 'worker_id must be at least 10 characters (got ''short'')', 'a short worker_id is refused');
select throws_ok($$select pgrun.record_heartbeat(null)$$,
  '22023', 'worker_id must be at least 10 characters (got NULL)', 'a null worker_id is refused');

select finish();
rollback;
