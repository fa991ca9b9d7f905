begin;
select plan(1);
select pgrun_tests.reset();

-- TEST: an available job of a paused queue
select id as job_id from pgrun.add_job('t', queue_name => 'mail') \gset
select pgrun.pause_queue('mail');
select results_eq(format('select state, reason, until from pgrun.explain_job(%s)', :job_id),
  $$values ('available', 'available, but its queue mail is paused (resume_queue)', null::timestamptz)$$,
  'its queue is paused');

select finish();
rollback;
