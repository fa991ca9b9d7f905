begin;
select plan(4);
select pgrun_tests.reset();

-- TEST: null is refused; an empty queue gives no rows
select throws_ok($$select * from pgrun.job_counts(null)$$, '22004', 'recount must not be null', 'null recount');
select is_empty($$select * from pgrun.job_counts()$$, 'no jobs, no rows');

-- TEST: it only reads, and a read role may call it
select is((select provolatile from pg_proc where oid = 'pgrun.job_counts(boolean)'::regprocedure), 's',
  'job_counts is stable');
create role pgrun_test_stats_reader;
select pgrun.grant_read('pgrun_test_stats_reader');
select pgrun.add_job('t');
set local role pgrun_test_stats_reader;
select is((select jobs from pgrun.job_counts()), 1::bigint, 'a read role may call job_counts');
reset role;

select finish();
rollback;
