begin;
select plan(2);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: a serial queue whose job runs holds the next one: the running job is named
select id as a_id from pgrun.add_job('t', queue_name => 'serial', run_at => now() - interval '1 minute') \gset
select id as b_id from pgrun.add_job('t', queue_name => 'serial') \gset
select pgrun_tests.claim(1, 1);
select is((select reason from pgrun.explain_job(:b_id)),
  format('available, but its queue serial is full: 1 of 1 running (held by job %s)', :a_id),
  'its queue is full, held by job N');

-- TEST: a queue of two names both
select id as c_id from pgrun.add_job('t', queue_name => 'pair', run_at => now() - interval '2 minutes') \gset
select id as d_id from pgrun.add_job('t', queue_name => 'pair', run_at => now() - interval '1 minute') \gset
select id as e_id from pgrun.add_job('t', queue_name => 'pair') \gset
update pgrun._private_job_queues set max_running = 2 where queue_name = 'pair';
select pgrun._offer_queue_heads(array['pair']);
select pgrun_tests.claim(1, 2);
select is((select reason from pgrun.explain_job(:e_id)),
  format('available, but its queue pair is full: 2 of 2 running (held by job %s, job %s)', :c_id, :d_id),
  'every running job of the queue is named');

select finish();
rollback;
