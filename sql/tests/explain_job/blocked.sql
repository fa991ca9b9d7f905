begin;
select plan(1);
select pgrun_tests.reset();

-- TEST: a blocked job waits on the jobs it depends on
select id as job_id from pgrun.add_job('t') \gset
update pgrun._private_jobs set state = 'blocked' where id = :job_id;
select results_eq(format('select state, reason, until from pgrun.explain_job(%s)', :job_id),
  $$values ('blocked', 'blocked: it waits for the jobs it depends on to complete', null::timestamptz)$$,
  'blocked: waiting on its parents');

select finish();
rollback;
