begin;
select plan(2);
select pgrun_tests.reset();

-- TEST: a cancelled job says when and why
select id as a_id from pgrun.add_job('t') \gset
select id as b_id from pgrun.add_job('t') \gset
select pgrun.cancel_jobs(array[:a_id]::bigint[], 'duplicate order');
select pgrun.cancel_jobs(array[:b_id]::bigint[]);
select is((select reason from pgrun.explain_job(:a_id)),
  format('cancelled at %s: duplicate order', (select finished_at from pgrun.jobs where id = :a_id)),
  'cancelled at T: <reason>');
select is((select reason from pgrun.explain_job(:b_id)),
  format('cancelled at %s: no reason given', (select finished_at from pgrun.jobs where id = :b_id)),
  'a cancel without a reason says so');

select finish();
rollback;
