begin;
select plan(1);
select pgrun_tests.reset();
select pgrun.set_retention(interval '1 day', null, null);

-- TEST: a completed job says when, until retention removes it
select id as job_id from pgrun.add_job('t') \gset
select pgrun.complete_jobs(array[:job_id]::bigint[]);
select results_eq(format('select state, reason, until from pgrun.explain_job(%s)', :job_id),
  format($$select 'completed', 'completed at ' || finished_at, keep_until from pgrun.jobs where id = %s$$, :job_id),
  'completed at T, until retention removes it');

select finish();
rollback;
