begin;
select plan(6);
select pgrun_tests.reset();

-- TEST: bad input gets a clear error and changes nothing
select id as job_id from pgrun.add_job('t') \gset
select throws_ok($$select pgrun.cancel_jobs(null)$$, '22004', 'job_ids must not be null',
  'null job_ids are refused');
select throws_ok(format($$select pgrun.cancel_jobs(array[%s]::bigint[], repeat('x', 1001))$$, :job_id),
  '22001', 'a cancel reason has at most 1000 characters (got 1001)', 'an over-long reason is refused');
select is(pgrun_tests.state(:job_id), 'available', 'the job still waits');

-- TEST: ids that name no job, and an empty list, cancel nothing
select is_empty($$select from pgrun.cancel_jobs(array[-1, 0]::bigint[])$$, 'unknown ids are passed over');
select is_empty($$select from pgrun.cancel_jobs('{}')$$, 'an empty list cancels nothing');
select results_eq(format($$select id, cancel_reason from pgrun.cancel_jobs(array[%s, %s, -1]::bigint[])$$, :job_id, :job_id),
  format($$values (%s::bigint, null::text)$$, :job_id), 'an id given twice is cancelled once; no reason is fine');

select finish();
rollback;
