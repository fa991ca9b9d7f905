begin;
select plan(8);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: queue p holds the two oldest jobs, one of them running; queue r and
-- an unqueued job come after
select id as p1_id from pgrun.add_job('t', queue_name => 'p', run_at => now() - interval '5 minutes') \gset
select id as p2_id from pgrun.add_job('t', queue_name => 'p', run_at => now() - interval '4 minutes') \gset
select id as r_id from pgrun.add_job('t', queue_name => 'r', run_at => now() - interval '3 minutes') \gset
select id as u_id from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select is((select id from pgrun_tests.claim(1, 1)), :p1_id::bigint, 'setup: the head of p runs');
update pgrun._private_job_queues set max_running = 2 where queue_name = 'p';
select pgrun._refresh_queue_heads(array['p']);
update pgrun._private_job_queues set paused = true where queue_name = 'p';

-- TEST: a paused queue's jobs stay waiting; other queues and unqueued jobs run
select results_eq($$select id from pgrun_tests.claim(1, 10)$$,
  format('values (%s::bigint), (%s)', :r_id, :u_id),
  'a claim passes paused p by, though it has room');
select is(pgrun_tests.state(:p2_id), 'available', 'p''s waiting job stays available');

-- TEST: a running job of a paused queue finishes normally
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[:p1_id]::bigint[],
                                                      array[pgrun_tests.lease(:p1_id)])),
  'completed', 'p''s running job completes');
select is((select running from pgrun._private_job_queues where queue_name = 'p'), 0, 'p runs nothing now');
select is_empty($$select from pgrun_tests.claim(1, 10)$$, 'and still gives nothing while paused');

-- TEST: maintain drops a paused queue's listing; whoever resumes it lists it again
select pgrun.maintain();
select is_empty($$select from pgrun_tests.listed() where queue_name = 'p'$$, 'maintain unlisted paused p');
update pgrun._private_job_queues set paused = false where queue_name = 'p';
select pgrun._refresh_queue_heads(array['p']);
select is((select array_agg(id) from pgrun_tests.claim(1, 10)), array[:p2_id]::bigint[],
  'resumed and listed again, p gives its job');

select finish();
rollback;
