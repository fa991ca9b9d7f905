begin;
select plan(12);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: add_job keeps a job's timeout; none by default
select is((pgrun.add_job('t', timeout => interval '30 seconds')).timeout, interval '30 seconds',
  'add_job records the timeout');
select is((pgrun.add_job('t')).timeout, null::interval, 'no timeout by default');
select is((pgrun.add_job('t', '{}', null, null, null, null, null, null, 'replace', interval '2 minutes')).timeout,
  interval '2 minutes', 'timeout is add_job''s last positional argument');

-- TEST: zero or negative timeouts are refused, by add_job and the table
select throws_ok($$select pgrun.add_job('t', timeout => interval '0')$$, '22023',
  'timeout must be positive (got 00:00:00); use null for no limit', 'add_job refuses a zero timeout');
select throws_ok($$select pgrun.add_job('t', timeout => interval '-5 seconds')$$, '22023',
  'timeout must be positive (got -00:00:05); use null for no limit', 'add_job refuses a negative timeout');
select throws_ok($$update pgrun._private_jobs set timeout = interval '0'$$, '23514', null,
  'the table refuses a zero timeout too (jobs_timeout_positive)');

-- TEST: job_spec has no timeout (Graphile's attributes, then depends_on): its job has none
select results_eq(
  $$select timeout from pgrun.add_jobs(array[row('t', null, null, null, null, null, null, null, null, null)::pgrun.job_spec])$$,
  $$values (null::interval)$$, 'add_jobs: a spec has no timeout');

-- TEST: replacing a keyed job replaces its timeout
select is((pgrun.add_job('t', job_key => 'k1', timeout => interval '9 seconds')).timeout, interval '9 seconds',
  'add_job replacing a pending job sets the new timeout');
select is((pgrun.add_job('t', job_key => 'k1')).timeout, null::interval, 'and a replacement without one clears it');

-- TEST: claim_jobs hands the timeout to the worker, as its last column
delete from pgrun._private_jobs;
select id as a_id from pgrun.add_job('t', timeout => interval '1 minute 30 seconds') \gset
select results_eq(format($$select id, timeout from pgrun.claim_jobs(%L, 2)$$, pgrun_tests.worker(1)),
  format($$values (%s::bigint, interval '90 seconds'), (null, null)$$, :a_id),
  'the claimed job carries its timeout; the sentinel row has none');
select is((select attname::text from pg_attribute
           where attrelid = 'pgrun.jobs'::regclass and attname = 'timeout'), 'timeout', 'the jobs view shows it');
select is((select timeout from pgrun.get_job(pgrun_tests.worker(1))), null::interval,
  'get_job returns the column (nothing left to claim here)');

select finish();
rollback;
