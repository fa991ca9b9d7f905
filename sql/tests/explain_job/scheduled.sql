begin;
select plan(2);
select pgrun_tests.reset();

-- TEST: a scheduled job waits for its run_at, which is when the reason ends
select id as job_id from pgrun.add_job('t', run_at => '2999-01-01 00:00:00+00') \gset
select results_eq(format('select state, reason, until from pgrun.explain_job(%s)', :job_id),
  format($$values ('scheduled', 'scheduled to run at %s', '2999-01-01 00:00:00+00'::timestamptz)$$,
         '2999-01-01 00:00:00+00'::timestamptz),
  'scheduled to run at its run_at, until then');

-- TEST: a scheduled job whose time came, not yet promoted, says what promotes it
update pgrun._private_jobs set run_at = now() - interval '1 minute' where id = :job_id;
select matches((select reason from pgrun.explain_job(:job_id)), '^due since .*: the next claim of its task or maintain\(\) makes it available$',
  'due: the next claim or maintain() makes it available');

select finish();
rollback;
