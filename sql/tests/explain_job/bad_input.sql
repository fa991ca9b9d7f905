begin;
select plan(3);
select pgrun_tests.reset();

-- TEST: an unknown id is an error (no_data_found), null too
select throws_ok($$select * from pgrun.explain_job(424242)$$, 'P0002', 'no job 424242', 'an unknown id is named');
select throws_ok($$select * from pgrun.explain_job(null)$$, '22004', 'job_id must not be null', 'null is refused');

-- TEST: it only reads
select is((select provolatile from pg_proc where oid = 'pgrun.explain_job(bigint)'::regprocedure), 's',
  'explain_job is stable');

select finish();
rollback;
