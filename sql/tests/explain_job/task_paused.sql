begin;
select plan(1);
select pgrun_tests.reset();

-- TEST: an available job of a paused task
select id as job_id from pgrun.add_job('emails.send') \gset
select pgrun.pause_task('emails.send');
select results_eq(format('select state, reason, until from pgrun.explain_job(%s)', :job_id),
  $$values ('available', 'available, but its task emails.send is paused (resume_task)', null::timestamptz)$$,
  'its task is paused');

select finish();
rollback;
