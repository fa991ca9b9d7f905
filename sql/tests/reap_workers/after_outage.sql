begin;
select plan(9);
select pgrun_tests.reset();

-- Fault 1: a database outage longer than the lease timeout made the first
-- worker to reconnect declare every other worker dead; their running jobs
-- were claimed again while still running, and a named queue ran two jobs at
-- once. Now a reaper must itself have beaten unbroken for a full timeout.

-- SETUP: workers 1, 2 and 3 beat every 5 s for two minutes, until an outage
-- began 30 s ago (the database was unreachable: nobody beat). Worker 2 runs
-- the head of serial queue q, worker 3 a job without a queue.
select pgrun_tests.register(n, now() - interval '2 minutes') from generate_series(1, 3) as n;
select id as q1_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '3 minutes') \gset
select id as q2_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '3 minutes') \gset
select id as u_id from pgrun.add_job('t', run_at => now() - interval '3 minutes') \gset
select is((select id from pgrun_tests.claim(2, 1, null, now() - interval '2 minutes')), :q1_id::bigint,
  'setup: worker 2 runs the head of q');
select is((select id from pgrun_tests.claim(3, 1, null, now() - interval '2 minutes')), :u_id::bigint,
  'setup: worker 3 runs the unqueued job');
select pgrun_tests.beat_steadily(n, now() - interval '2 minutes', now() - interval '30 seconds')
from generate_series(1, 3) as n;

-- TEST: the first worker back reaps nobody: its own run of beats starts again
select is_empty($$select from pgrun.heartbeat(pgrun_tests.worker(1))$$,
  'worker 1 reconnects first; its beat reaps nobody although the others are silent for 30 s');
select is_empty($$select from pgrun.reap_workers(pgrun_tests.worker(1))$$,
  'nor does an explicit reap_workers');
select is((select beating_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)), now(),
  'its run of beats starts now');

-- TEST: the others come back within their timeout and keep their jobs
select pgrun.heartbeat(pgrun_tests.worker(2), now => now() + interval '5 seconds');
select pgrun.heartbeat(pgrun_tests.worker(1), now => now() + n * interval '5 seconds') from generate_series(1, 3) as n;
select pgrun.heartbeat(pgrun_tests.worker(2), now => now() + n * interval '5 seconds') from generate_series(2, 4) as n;
select results_eq(
  format('select id, state, locked_by from pgrun.jobs where id in (%s, %s) order by id', :q1_id, :q2_id),
  format($$values (%s::bigint, 'running', %L), (%s, 'available', null::text)$$, :q1_id, pgrun_tests.worker(2), :q2_id),
  'worker 2 still runs the head of q; the second job of q waits');
select is_empty(format($$select from pgrun_tests.claim(1, 5, null, now() + interval '15 seconds')$$),
  'a claim meanwhile finds q full and nothing else to run');

-- TEST: a worker that stays away is reaped once the reaper has beaten a full timeout
select results_eq(
  $$select dead_worker_id, released_jobs from pgrun.heartbeat(pgrun_tests.worker(1), now => now() + interval '20 seconds')$$,
  $$values (pgrun_tests.worker(3), 1)$$,
  '20 s after the outage worker 1 reaps worker 3, which never came back, and only it');
select results_eq(
  format('select id, state from pgrun.jobs where id in (%s, %s) order by id', :q1_id, :u_id),
  format($$values (%s::bigint, 'running'), (%s, 'available')$$, :q1_id, :u_id),
  'worker 3''s job is available again; worker 2''s still runs');

select finish();
rollback;
