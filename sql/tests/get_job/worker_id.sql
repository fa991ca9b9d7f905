begin;
select plan(6);
select pgrun_tests.reset();
select pgrun.add_job('t');

-- TEST: a worker_id shorter than 10 characters is refused
select throws_ok($$select pgrun.get_job('worker-1')$$,
  '22023', 'worker_id must be at least 10 characters (got ''worker-1'')', 'get_job refuses an 8-character worker_id');
select throws_ok($$select pgrun.get_job(null)$$,
  '22023', 'worker_id must be at least 10 characters (got NULL)', 'get_job refuses a null worker_id');
select throws_ok($$select pgrun.get_jobs('', max_jobs => 5)$$,
  '22023', 'worker_id must be at least 10 characters (got '''')', 'get_jobs refuses an empty worker_id');
select is((select count(*)::integer from pgrun.jobs where locked_at is not null), 0, 'nothing was claimed');

-- TEST: 10 characters are enough
select is((pgrun.get_job('worker-001')).locked_by, 'worker-001', 'a 10-character worker_id claims the job');

-- TEST: the null row of an empty claim still validates the worker first
select throws_ok($$select pgrun.get_job('short')$$,
  '22023', 'worker_id must be at least 10 characters (got ''short'')', 'refused even when no job is runnable');

select finish();
rollback;
