begin;
select plan(6);
select pgrun_tests.reset();

-- Fault 8: a worker with no live heartbeat row could still claim, and reaped
-- workers re-registered silently, never learning it. Now the reaped row
-- stays, marked, and the worker learns it at its next beat or claim.

-- SETUP: worker 2 went silent for a minute; worker 1 has beaten all along and reaps it
select pgrun_tests.register(n, now() - interval '2 minutes') from generate_series(1, 2) as n;
select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() - interval '1 minute');
select pgrun_tests.beat_steadily(1, now() - interval '2 minutes', now() - interval '1 second');
select results_eq($$select dead_worker_id, released_jobs from pgrun.heartbeat(pgrun_tests.worker(1))$$,
  $$values (pgrun_tests.worker(2), 0)$$, 'setup: worker 1''s beat reaps worker 2');

-- TEST: worker 2's next beat says it was reaped, by whom and when
select throws_ok(format('select pgrun.heartbeat(%L)', pgrun_tests.worker(2)),
  'PGR01', format('worker %s was presumed dead by %s at %s and its jobs were released; register again under a new id',
                  pgrun_tests.worker(2), pgrun_tests.worker(1), now()),
  'its heartbeat is refused with PGR01');
select throws_ok(format('select pgrun.record_heartbeat(%L)', pgrun_tests.worker(2)),
  'PGR01', format('worker %s was presumed dead by %s at %s and its jobs were released; register again under a new id',
                  pgrun_tests.worker(2), pgrun_tests.worker(1), now()),
  'so is schema 1''s record_heartbeat');
select is((select last_heartbeat_at from pgrun._private_workers where worker_id = pgrun_tests.worker(2)),
  now() - interval '1 minute', 'the refused beat renewed nothing');

-- TEST: and so does its next claim
select pgrun.add_job('t');
select throws_ok(format('select * from pgrun.claim_jobs(%L, 1)', pgrun_tests.worker(2)),
  'PGR01', format('worker %s was presumed dead by %s at %s and its jobs were released; register again under a new id',
                  pgrun_tests.worker(2), pgrun_tests.worker(1), now()),
  'claim_jobs refuses it with PGR01');
select throws_ok(format('select * from pgrun.get_jobs(%L)', pgrun_tests.worker(2)),
  'PGR01', format('worker %s was presumed dead by %s at %s and its jobs were released; register again under a new id',
                  pgrun_tests.worker(2), pgrun_tests.worker(1), now()),
  'get_jobs too: a reaped worker is not an unregistered one');

select finish();
rollback;
