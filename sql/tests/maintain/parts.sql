begin;
select plan(12);
select pgrun_tests.reset();

-- SETUP, all as seen 5 hours from now:
--   a job scheduled in 1 hour (due by then);
--   a job claimed now by a worker that never registered (its lock expired by then);
--   a completed job kept 1 minute (expired by then);
--   a worker reaped now that holds nothing, and one reaped now that still holds a job;
--   queue "old" whose only job is gone, queue "busy" with a job, queue "wide"
--   (max_running 3) with no job;
--   queue "paused", paused, still listed
select id as due_id from pgrun.add_job('later', run_at => now() + interval '1 hour') \gset
select id as expired_id from pgrun.add_job('abandoned') \gset
select is((pgrun.get_job('graphile-style-worker', array['abandoned'])).id, :expired_id::bigint,
  'setup: an unregistered worker claims a job');
select pgrun.set_retention(interval '1 minute', null, null);
select pgrun_tests.register(1, now() + interval '5 hours');
select pgrun_tests.register(2);
select pgrun_tests.register(3);
select id as kept_id from pgrun.add_job('done', queue_name => 'old') \gset
select pgrun.complete_attempts(pgrun_tests.worker(2), array[c.id], array[c.lease]) from pgrun_tests.claim(2, 1, array['done']) as c;
select id as held_id from pgrun.add_job('held') \gset
select pgrun_tests.claim(3, 1, array['held']);
update pgrun._private_workers set reaped_at = now(), reaped_by = pgrun_tests.worker(1)
where worker_id in (pgrun_tests.worker(2), pgrun_tests.worker(3));
select pgrun.add_job('busy', queue_name => 'busy', run_at => now() + interval '1 day');
select pgrun_tests.add_queue('wide', 3);
select pgrun.add_job('p', queue_name => 'paused');
update pgrun._private_job_queues set paused = true where queue_name = 'paused';
update pgrun._private_job_queues set created_at = now() - interval '1 hour';
select is((select count(*)::integer from pgrun._private_queue_heads where queue_name = 'paused'), 1,
  'setup: the paused queue is listed');

-- TEST: one call does each part and says what it did
select set_eq($$select task, rows from pgrun.maintain(now => now() + interval '5 hours') where task <> 'dead job rows'$$,
  $$values ('promoted', 1), ('expired locks released', 1), ('pruned', 1),
           ('reaped workers forgotten', 1), ('unused queues dropped', 1)$$,
  'promoted, released, pruned, forgot, dropped one of each');
select is(pgrun_tests.state(:due_id), 'available', 'the due job is available');
select results_eq(format('select state, attempts, locked_by from pgrun.jobs where id = %s', :expired_id),
  $$values ('available', 1::smallint, null::text)$$, 'the abandoned job is released, its attempt counted');
select is_empty(format('select from pgrun.jobs where id = %s', :kept_id), 'the expired completed job is pruned');
select set_eq($$select worker_id from pgrun._private_workers$$,
  format('values (%L), (%L)', pgrun_tests.worker(1), pgrun_tests.worker(3)),
  'the reaped worker that holds nothing is forgotten; the one that still holds a job is not');
select set_eq($$select queue_name from pgrun._private_job_queues$$,
  $$values ('busy'), ('wide'), ('paused')$$,
  'queue old is dropped; a queue with a job, one with its own settings and a paused one stay');
select is_empty($$select from pgrun._private_queue_heads where queue_name = 'paused'$$,
  'the paused queue''s listing is brought up to date: unlisted');
select is(pgrun_tests.state(:held_id), 'running', 'the job of the reaped worker is not touched by maintain');

-- TEST: a second call finds nothing left to do
select is_empty($$select from pgrun.maintain(now => now() + interval '5 hours') where task <> 'dead job rows'$$, 'nothing more to do');

-- TEST: max_rows bounds each part
select pgrun.add_job('later', run_at => now() + interval '1 hour') from generate_series(1, 3);
select results_eq($$select task, rows from pgrun.maintain(2, now => now() + interval '5 hours') where task <> 'dead job rows'$$,
  $$values ('promoted', 2)$$, 'with max_rows 2, two of three due jobs are promoted per call');

select finish();
rollback;
