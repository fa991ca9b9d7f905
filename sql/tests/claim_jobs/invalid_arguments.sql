begin;
select plan(6);
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun.add_job('t');

-- TEST: max_jobs must be at least 1
select throws_ok(format('select * from pgrun.claim_jobs(%L, null)', pgrun_tests.worker(1)),
  '22023', 'max_jobs must be at least 1 (got NULL)', 'a null max_jobs is refused');
select throws_ok(format('select * from pgrun.claim_jobs(%L, 0)', pgrun_tests.worker(1)),
  '22023', 'max_jobs must be at least 1 (got 0)', 'max_jobs 0 is refused');
select throws_ok(format('select * from pgrun.claim_jobs(%L, -3)', pgrun_tests.worker(1)),
  '22023', 'max_jobs must be at least 1 (got -3)', 'a negative max_jobs is refused');

-- TEST: worker ids shorter than 10 characters are refused before the lease is looked up
select throws_ok($$select * from pgrun.claim_jobs('short', 1)$$,
  '22023', 'worker_id must be at least 10 characters (got ''short'')', 'a short worker id is refused');
select throws_ok($$select * from pgrun.claim_jobs(null, 1)$$,
  '22023', 'worker_id must be at least 10 characters (got NULL)', 'a null worker id is refused');

-- TEST: nothing was claimed
select is((select count(*)::integer from pgrun.jobs where state = 'running'), 0, 'no job was claimed');

select finish();
rollback;
