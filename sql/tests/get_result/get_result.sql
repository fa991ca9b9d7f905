begin;
select plan(6);
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun.set_retention(interval '1 day', null, null);

-- TEST: a job still to run reports its state and nothing else yet
select id as job_id from pgrun.add_job('t') \gset
select results_eq(format('select * from pgrun.get_result(%s)', :job_id),
  $$values ('available', null::jsonb, null::text, null::timestamptz)$$, 'an added job: available, no result');

-- TEST: a retry reports its last error
select pgrun.fail_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array['try again']) from pgrun_tests.claim(1) as c;
select results_eq(format('select * from pgrun.get_result(%s)', :job_id),
  $$values ('retryable', null::jsonb, 'try again', null::timestamptz)$$, 'after a failure: retryable, its error');

-- TEST: a completed job reports what its handler returned
select pgrun.reschedule_jobs(array[:job_id]::bigint[], run_at => now());
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array['[1, 2]'::jsonb])
from pgrun_tests.claim(1) as c;
select results_eq(format('select * from pgrun.get_result(%s)', :job_id),
  $$values ('completed', '[1, 2]'::jsonb, 'try again', now())$$, 'completed: its result and when it finished');

-- TEST: a failed job reports its error
select id as failed_id from pgrun.add_job('t', max_attempts => 1) \gset
select pgrun.fail_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array['no luck']) from pgrun_tests.claim(1) as c;
select results_eq(format('select * from pgrun.get_result(%s)', :failed_id),
  $$values ('failed', null::jsonb, 'no luck', now())$$, 'failed: its error and when it finished');

-- TEST: an unknown or removed job has no row
select is_empty($$select from pgrun.get_result(-1)$$, 'an unknown id gives no row');
select pgrun.prune_jobs(100, now() + interval '2 days');
select is_empty(format('select from pgrun.get_result(%s)', :job_id), 'a job removed by retention gives no row');

select finish();
rollback;
