begin;
select plan(13);
select pgrun_tests.reset();

-- SETUP: worker 1 has beaten every 5 s for a minute; worker 2 claimed three
-- jobs a minute ago (a in queue q, b on its last attempt, c) and went silent 30 s ago
select pgrun_tests.register(n, now() - interval '1 minute') from generate_series(1, 2) as n;
select id as a_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '2 minutes') \gset
select id as b_id from pgrun.add_job('t', max_attempts => 1, run_at => now() - interval '2 minutes') \gset
select id as c_id from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select is((select count(*)::integer from pgrun_tests.claim(2, 3, null, now() - interval '1 minute')), 3,
  'setup: worker 2 claims three jobs');
select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() - interval '30 seconds');
select pgrun_tests.beat_steadily(1, now() - interval '1 minute', now());

-- TEST: reap_workers marks the dead worker and releases its jobs
select results_eq($$select * from pgrun.reap_workers(pgrun_tests.worker(1))$$,
  $$values (pgrun_tests.worker(2), 3)$$, 'worker 2 is reaped with its three jobs');
select results_eq(
  $$select reaped_at, reaped_by, idle_since from pgrun._private_workers where worker_id = pgrun_tests.worker(2)$$,
  $$values (now(), pgrun_tests.worker(1), null::timestamptz)$$, 'its row is marked: when and by whom');

-- TEST: each job's attempt counts; it runs again at once, or fails if that was its last
select results_eq(
  format('select id, state, attempts, locked_by, run_at from pgrun.jobs where id in (%s, %s) order by id', :a_id, :c_id),
  format($$values (%s::bigint, 'available', 1::smallint, null::text, now() - interval '2 minutes'),
                  (%s, 'available', 1::smallint, null, now() - interval '2 minutes')$$, :a_id, :c_id),
  'a and c are available again at once, their lost attempt counted');
select results_eq(format('select state, finished_at from pgrun.jobs where id = %s', :b_id),
  $$values ('failed', now())$$, 'b, whose only attempt was lost, failed');
select is((select last_error from pgrun.jobs where id = :a_id),
  format('worker %s stopped sending heartbeats (last at %s); job released', pgrun_tests.worker(2), now() - interval '30 seconds'),
  'last_error says which worker stopped and when it last beat');
select is((select errors -> 0 ->> 'error' from pgrun.jobs where id = :a_id), (select last_error from pgrun.jobs where id = :a_id),
  'the errors history has the same entry');
select results_eq($$select running from pgrun._private_job_queues where queue_name = 'q'$$, $$values (0)$$,
  'q runs nothing now');
select results_eq($$select * from pgrun_tests.listed()$$, format($$values ('q', %s::bigint)$$, :a_id),
  'and is listed again with the released job');

-- TEST: only a live reaper reaps, never itself
select pgrun_tests.register(3, now() - interval '1 minute');
select pgrun.record_heartbeat(pgrun_tests.worker(3), now => now() - interval '25 seconds');
select is_empty(format('select from pgrun.reap_workers(%L, now() + interval ''1 hour'')', pgrun_tests.worker(3)),
  'a reaper whose own lease ran out reaps nobody, though everyone is silent by then');
select is_empty(format('select from pgrun.reap_workers(%L)', pgrun_tests.worker(9)),
  'an unregistered reaper reaps nobody');
select is_empty(format('select from pgrun.reap_workers(%L)', pgrun_tests.worker(2)),
  'a reaped worker reaps nobody');
select is((select reaped_at from pgrun._private_workers where worker_id = pgrun_tests.worker(3)), null,
  'worker 3, silent 25 s, was not reaped by those calls');

select finish();
rollback;
