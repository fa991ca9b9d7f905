begin;
select plan(16);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: queue q has two jobs, the first running; an unqueued job comes after
select id as q1_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '5 minutes') \gset
select id as q2_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '4 minutes') \gset
select id as u_id from pgrun.add_job('t', run_at => now() - interval '1 minute') \gset
select is((select id from pgrun_tests.claim(1, 1)), :q1_id::bigint, 'setup: the head of q runs');
update pgrun._private_job_queues set max_running = 2 where queue_name = 'q';
select pgrun._offer_queue_heads(array['q']);

-- TEST: pausing says whether it changed something, and drops the listing at once
select is(pgrun.pause_queue('q'), true, 'pause_queue pauses q');
select is(pgrun.pause_queue('q'), false, 'a second pause changes nothing');
select is((select paused from pgrun._private_job_queues where queue_name = 'q'), true, 'q is paused');
select is_empty($$select from pgrun_tests.listed() where queue_name = 'q'$$, 'q is no longer listed');

-- TEST: waiting jobs stay, running ones finish
select results_eq($$select id from pgrun_tests.claim(1, 10)$$, format('values (%s::bigint)', :u_id),
  'a claim takes the unqueued job, not q''s though q has room');
select is(pgrun_tests.state(:q2_id), 'available', 'q''s waiting job stays available');
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[:q1_id]::bigint[],
                                                      array[pgrun_tests.lease(:q1_id)])),
  'completed', 'q''s running job completes');

-- TEST: a queue nobody used yet is created paused; its first job waits
select is(pgrun.pause_queue('fresh'), true, 'pausing a queue that has no row works');
select results_eq($$select paused, max_running, running from pgrun._private_job_queues where queue_name = 'fresh'$$,
  $$values (true, 1, 0)$$, 'its row is made, paused, with default settings');
select pgrun.add_job('t', queue_name => 'fresh');
select is_empty($$select from pgrun_tests.claim(1, 10)$$, 'its first job waits');

-- TEST: resume lists the queue again and wakes idle workers in the same transaction
select is(pgrun.resume_queue('q'), true, 'resume_queue resumes q');
select is(pgrun.resume_queue('q'), false, 'a second resume changes nothing');
select is((select array_agg(job_id) from pgrun_tests.listed() where queue_name = 'q'), array[:q2_id]::bigint[],
  'q is listed again at its next job');
select is((select array_agg(id) from pgrun_tests.claim(1, 10)), array[:q2_id]::bigint[], 'and gives it');

-- TEST: maintain keeps a paused queue's row even when it has no job
select pgrun.maintain(now => now() + interval '1 hour');
select is((select paused from pgrun._private_job_queues where queue_name = 'fresh'), true,
  'maintain does not drop a paused queue');

select finish();
rollback;
