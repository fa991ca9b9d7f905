begin;
select plan(14);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: adding a job lists its queue with that job
select id as a_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '2 minutes') \gset
select results_eq($$select * from pgrun_tests.listed()$$, format($$values ('q', %s::bigint)$$, :a_id),
  'q is listed with its only job');

-- TEST: a later job of the queue needs no second row; a better one gets one
select id as b_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '1 minute') \gset
select is((select count(*)::integer from pgrun._private_queue_heads where queue_name = 'q'), 1,
  'a job behind the head adds no row');
select id as c_id from pgrun.add_job('t', queue_name => 'q', priority => -1) \gset
select results_eq($$select * from pgrun_tests.listed()$$, format($$values ('q', %s::bigint)$$, :c_id),
  'a job of better priority is listed, so q is visited in its order');

-- TEST: a job due later does not list its queue
select pgrun.add_job('t', queue_name => 'later', run_at => now() + interval '1 hour');
select is_empty($$select from pgrun_tests.listed() where queue_name = 'later'$$,
  'a queue with only scheduled jobs is not listed');

-- TEST: a claim that fills a queue takes its listing away
select is((select id from pgrun_tests.claim(1, 1)), :c_id::bigint, 'the best job of q is claimed');
select is_empty($$select from pgrun_tests.listed() where queue_name = 'q'$$, 'full q is no longer listed');
select is_empty($$select from pgrun_tests.unlisted_queues()$$, 'no queue with room and a job is unlisted');

-- TEST: an ending attempt lists the queue again with its next job
select pgrun.complete_attempts(pgrun_tests.worker(1), array[:c_id]::bigint[], array[pgrun_tests.lease(:c_id)]);
select results_eq($$select * from pgrun_tests.listed() where queue_name = 'q'$$, format($$values ('q', %s::bigint)$$, :a_id),
  'q is listed again, with its next job');

-- TEST: a queue with room after a claim stays listed with its next job
update pgrun._private_job_queues set max_running = 2 where queue_name = 'q';
select is((select id from pgrun_tests.claim(1, 1)), :a_id::bigint, 'q''s next job is claimed');
select results_eq($$select * from pgrun_tests.listed() where queue_name = 'q'$$, format($$values ('q', %s::bigint)$$, :b_id),
  'q, with room for another, is listed with the job after it');

-- TEST: a listing that no longer matches an available job is brought up to date by the claim that finds it
select pgrun.complete_jobs(array[:b_id]::bigint[]);
select results_eq($$select * from pgrun_tests.listed() where queue_name = 'q'$$, format($$values ('q', %s::bigint)$$, :b_id),
  'setup: an admin removed the listed job; the listing still names it');
select is_empty($$select from pgrun_tests.claim(1, 5)$$, 'the claim finds nothing to take');
select is_empty($$select from pgrun_tests.listed() where queue_name = 'q'$$, 'and removed the stale listing');

-- TEST: a promoted job lists its queue
select pgrun.maintain(now => now() + interval '1 hour');
select results_eq($$select j.state from pgrun_tests.listed() as l join pgrun.jobs as j on j.id = l.job_id
                    where l.queue_name = 'later'$$,
  $$values ('available')$$,
  'once its job is promoted, queue later is listed with it');

select finish();
rollback;
