begin;
select plan(14);
select pgrun_tests.reset();

-- SETUP: three workers registered two minutes ago. Worker 2 has beaten every
-- 5 s since (its last beat 5 s ago) and runs one job in queue r; worker 1 last
-- beat a minute ago and runs two jobs (one in queue q); worker 3 last beat 30 s
-- ago and holds nothing
select pgrun_tests.register(n, now() - interval '2 minutes') from generate_series(1, 3) as n;
select pgrun_tests.beat_steadily(2, now() - interval '2 minutes', now() - interval '5 seconds');
select pgrun.record_heartbeat(pgrun_tests.worker(1), now => now() - interval '60 seconds');
select pgrun.record_heartbeat(pgrun_tests.worker(3), now => now() - interval '30 seconds');
select id as a_id from pgrun.add_job('w1', queue_name => 'q', run_at => now() - interval '2 minutes') \gset
select id as b_id from pgrun.add_job('w1', run_at => now() - interval '2 minutes') \gset
select id as c_id from pgrun.add_job('w2', queue_name => 'r') \gset
select is((select count(*)::integer from pgrun.get_jobs(pgrun_tests.worker(1), array['w1'],
  now => now() - interval '60 seconds', max_jobs => 2)), 2, 'setup: worker 1 runs two jobs');
select is((pgrun.get_job(pgrun_tests.worker(2), array['w2'])).id, :c_id::bigint, 'setup: worker 2 runs one job');

-- TEST: workers silent longer than their lease timeout lose their jobs; the
-- count is returned per worker (the longest-beating live worker reaps)
select set_eq(
  $$select worker_id, released_jobs from pgrun.release_dead_workers(interval '20 seconds', now())$$,
  format('values (%L, 2), (%L, 0)', pgrun_tests.worker(1), pgrun_tests.worker(3)),
  'workers 1 (two jobs) and 3 (none) are reaped');
select results_eq(
  format('select id, state, locked_at, locked_by, attempts, updated_at from pgrun.jobs where id in (%s, %s) order by id',
         :a_id, :b_id),
  format($$values (%s::bigint, 'available', null::timestamptz, null::text, 1::smallint, now()),
                  (%s, 'available', null, null, 1::smallint, now())$$, :a_id, :b_id),
  'worker 1''s jobs are available again and the crashed attempt stays counted');
select ok((select bool_and(last_error like format('worker %s stopped sending heartbeats (last at %%); job released',
                                                pgrun_tests.worker(1)))
           from pgrun.jobs where id in (:a_id, :b_id)),
  'last_error says the worker stopped sending heartbeats');
select results_eq(
  format($$select jsonb_array_length(errors), errors -> 0 -> 'at', errors -> 0 -> 'attempt',
                  errors -> 0 ->> 'error' = last_error from pgrun.jobs where id = %s$$, :a_id),
  $$values (1, to_jsonb(now()), '1'::jsonb, true)$$,
  'the errors history gains an entry for the lost attempt');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0,
  'worker 1''s queue runs nothing now');
select set_eq($$select worker_id from pgrun._private_workers where reaped_at is not null$$,
  format('values (%L), (%L)', pgrun_tests.worker(1), pgrun_tests.worker(3)),
  'the dead workers stay, marked as reaped, until maintain forgets them; worker 2 is not reaped');

-- TEST: a live worker is left alone
select results_eq(
  format('select state, locked_by, last_error from pgrun.jobs where id = %s', :c_id),
  format($$values ('running', %L, null::text)$$, pgrun_tests.worker(2)),
  'worker 2''s job still runs');
select is((select running from pgrun._private_job_queues where queue_name = 'r'), 1,
  'worker 2''s queue still runs its job');

-- TEST: the released jobs are claimable at once
select pgrun_tests.register(4);
select set_eq($$select id from pgrun.get_jobs(pgrun_tests.worker(4), array['w1'], max_jobs => 5)$$,
  format('values (%s::bigint), (%s)', :a_id, :b_id),
  'worker 4 claims both released jobs');

-- TEST: nothing more to release until the timeout passes for worker 2
select is_empty($$select from pgrun.release_dead_workers(interval '20 seconds', now())$$,
  'a second call releases nothing');
select results_eq(
  $$select worker_id, released_jobs from pgrun.release_dead_workers(interval '20 seconds', now() + interval '20 seconds')$$,
  format('values (%L, 1)', pgrun_tests.worker(2)),
  'once worker 2 has been silent longer than its timeout, it is reaped too (by worker 4, live 20 s)');

-- TEST: with no live worker to reap on its behalf, nothing happens
select is_empty($$select from pgrun.release_dead_workers(interval '20 seconds', now() + interval '1 hour')$$,
  'an hour later nobody is live: nothing is reaped');

select finish();
rollback;
