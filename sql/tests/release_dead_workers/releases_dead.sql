begin;
select plan(13);
select pgrun_tests.reset();

-- SETUP: worker 1 last beat a minute ago and runs two jobs (one in queue q);
-- worker 2 beat 5 seconds ago and runs one job in queue r; worker 3 died holding nothing
select pgrun.record_heartbeat(pgrun_tests.worker(1), now => now() - interval '60 seconds');
select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() - interval '5 seconds');
select pgrun.record_heartbeat(pgrun_tests.worker(3), now => now() - interval '30 seconds');
select id as a_id from pgrun.add_job('w1', queue_name => 'q', run_at => now() - interval '2 minutes') \gset
select id as b_id from pgrun.add_job('w1', run_at => now() - interval '2 minutes') \gset
select id as c_id from pgrun.add_job('w2', queue_name => 'r') \gset
select is((select count(*)::integer from pgrun.get_jobs(pgrun_tests.worker(1), array['w1'],
  now => now() - interval '60 seconds', max_jobs => 2)), 2, 'setup: worker 1 runs two jobs');
select is((pgrun.get_job(pgrun_tests.worker(2), array['w2'])).id, :c_id::bigint, 'setup: worker 2 runs one job');

-- TEST: workers silent longer than the timeout lose their jobs; the count is returned per worker
select set_eq(
  $$select worker_id, released_jobs from pgrun.release_dead_workers(interval '20 seconds', now())$$,
  format('values (%L, 2), (%L, 0)', pgrun_tests.worker(1), pgrun_tests.worker(3)),
  'workers 1 (two jobs) and 3 (none) are released');
select results_eq(
  format('select id, locked_at, locked_by, attempts, updated_at from pgrun.jobs where id in (%s, %s) order by id',
         :a_id, :b_id),
  format('values (%s::bigint, null::timestamptz, null::text, 1::smallint, now()), (%s, null, null, 1::smallint, now())',
         :a_id, :b_id),
  'worker 1''s jobs are unlocked and the crashed attempt stays counted');
select ok((select bool_and(last_error like format('worker %s stopped sending heartbeats (last at %%); job released',
                                                pgrun_tests.worker(1)))
           from pgrun.jobs where id in (:a_id, :b_id)),
  'last_error says the worker stopped sending heartbeats');
select is((select errors from pgrun.jobs where id = :a_id),
  jsonb_build_array(jsonb_build_object('at', now(), 'attempt', 1,
    'error', format('worker %s stopped sending heartbeats', pgrun_tests.worker(1)))),
  'the errors history gains an entry for the lost attempt');
select is((select locked_by from pgrun._private_job_queues where queue_name = 'q'), null,
  'worker 1''s queue is unlocked');
select set_eq($$select worker_id from pgrun._private_workers$$, format('values (%L)', pgrun_tests.worker(2)),
  'the dead workers are forgotten; worker 2 remains');

-- TEST: a live worker is left alone
select results_eq(
  format('select locked_by, last_error from pgrun.jobs where id = %s', :c_id),
  format('values (%L, null::text)', pgrun_tests.worker(2)),
  'worker 2''s job is still locked to it');
select is((select locked_by from pgrun._private_job_queues where queue_name = 'r'), pgrun_tests.worker(2),
  'worker 2''s queue is still locked');

-- TEST: the released jobs are claimable at once
select set_eq($$select id from pgrun.get_jobs(pgrun_tests.worker(4), array['w1'], max_jobs => 5)$$,
  format('values (%s::bigint), (%s)', :a_id, :b_id),
  'worker 4 claims both released jobs');

-- TEST: nothing more to release until the timeout passes for worker 2
select is_empty($$select from pgrun.release_dead_workers(interval '20 seconds', now())$$,
  'a second call releases nothing');
select results_eq(
  $$select worker_id, released_jobs from pgrun.release_dead_workers(interval '20 seconds', now() + interval '20 seconds')$$,
  format('values (%L, 1)', pgrun_tests.worker(2)),
  'once worker 2 has been silent longer than the timeout, it is released too');

select finish();
rollback;
