begin;
select plan(4);
select pgrun_tests.reset();

-- TEST: the window is 1 to 1440 minutes; now must be given
select throws_ok($$select * from pgrun.job_throughput(0)$$, '22023', 'minutes must be 1 to 1440 (got 0)', 'zero minutes');
select throws_ok($$select * from pgrun.job_throughput(1441)$$, '22023', 'minutes must be 1 to 1440 (got 1441)', 'more than a day');
select throws_ok($$select * from pgrun.job_throughput(null)$$, '22023', 'minutes must be 1 to 1440 (got NULL)', 'null');
select throws_ok($$select * from pgrun.job_throughput(5, null)$$, '22004', 'now must not be null', 'null now');

select finish();
rollback;
