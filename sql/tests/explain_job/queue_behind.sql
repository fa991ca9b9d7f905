begin;
select plan(1);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: in a serial queue with room, the second job waits behind the first
select id as a_id from pgrun.add_job('t', queue_name => 'serial', run_at => now() - interval '1 minute') \gset
select id as b_id from pgrun.add_job('t', queue_name => 'serial') \gset
select is((select reason from pgrun.explain_job(:b_id)),
  format('available, waiting in queue serial behind job %s', :a_id),
  'waiting behind job N of its queue');

select finish();
rollback;
