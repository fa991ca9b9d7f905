begin;
select plan(6);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: jobs available (in queue q), scheduled and retryable, and one running
select id as available_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 5) \gset
select id as scheduled_id from pgrun.add_job('t', run_at => now() + interval '1 hour', max_attempts => 5) \gset
select id as retryable_id from pgrun.add_job('t', run_at => now() + interval '1 hour', max_attempts => 5) \gset
select pgrun.reschedule_jobs(array[:retryable_id]::bigint[], attempts => 2);
select id as running_id from pgrun.add_job('busy') \gset
select pgrun_tests.claim(1, 1, array['busy']);

-- TEST: permanently_fail_jobs makes each job that is not running failed, finished now
select results_eq(
  format('select id, state, attempts, last_error, finished_at from pgrun.permanently_fail_jobs(array[%s, %s, %s, %s]::bigint[])',
         :available_id, :scheduled_id, :retryable_id, :running_id),
  format($$values (%s::bigint, 'failed', 5::smallint, 'Manually marked as failed', now()),
                  (%s, 'failed', 5::smallint, 'Manually marked as failed', now()),
                  (%s, 'failed', 5::smallint, 'Manually marked as failed', now())$$,
         :available_id, :scheduled_id, :retryable_id),
  'three jobs failed, attempts used up, with the default message; the running one is not returned');
select is(pgrun_tests.state(:running_id), 'running', 'the running job is untouched');
select is((select keep_until from pgrun.jobs where id = :available_id), null,
  'failed jobs are kept until removed, by default');

-- TEST: a failed job is never claimed, and its queue is not listed for it
select is_empty($$select from pgrun_tests.claim(1, 5, null, now())$$, 'nothing is claimable');
select is_empty($$select from pgrun_tests.unlisted_queues()$$, 'no queue with a job is left unlisted');

-- TEST: retention applies to failed jobs: 0 removes them at once
select pgrun.set_retention(null, interval '0', null);
select id as gone_id from pgrun.add_job('t') \gset
select pgrun.permanently_fail_jobs(array[:gone_id]::bigint[], 'not wanted');
select is_empty(format('select from pgrun.jobs where id = %s', :gone_id), 'with failed jobs kept 0 s, the job is gone');

select finish();
rollback;
