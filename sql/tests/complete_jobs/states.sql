begin;
select plan(7);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: a job in each state an admin may complete, and one running
select id as available_id from pgrun.add_job('t', queue_name => 'q') \gset
select id as scheduled_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select id as retryable_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select pgrun.reschedule_jobs(array[:retryable_id]::bigint[], attempts => 1);
select id as failed_id from pgrun.add_job('t', max_attempts => 1, run_at => now() + interval '1 hour') \gset
select pgrun.permanently_fail_jobs(array[:failed_id]::bigint[]);
select id as running_id from pgrun.add_job('busy') \gset
select is((select id from pgrun_tests.claim(1, 1, array['busy'])), :running_id::bigint, 'setup: one job runs');
select results_eq($$select state from pgrun.jobs order by id$$,
  $$values ('available'), ('scheduled'), ('retryable'), ('failed'), ('running')$$, 'setup: one job per state');

-- TEST: without retention, complete_jobs removes every job that is not running and returns them as they were
select results_eq(
  format('select id, state from pgrun.complete_jobs(array[%s, %s, %s, %s, %s]::bigint[]) order by id',
         :available_id, :scheduled_id, :retryable_id, :failed_id, :running_id),
  format($$values (%s::bigint, 'available'), (%s, 'scheduled'), (%s, 'retryable'), (%s, 'failed')$$,
         :available_id, :scheduled_id, :retryable_id, :failed_id),
  'the four jobs that were not running are returned as they were');
select results_eq($$select id, state from pgrun.jobs$$, format($$values (%s::bigint, 'running')$$, :running_id),
  'they are gone; the running job is untouched');

-- TEST: with retention, completed jobs stay as completed
select pgrun.set_retention(interval '1 day', null, null);
select id as kept_id from pgrun.add_job('t') \gset
select pgrun.complete_jobs(array[:kept_id]::bigint[]);
select results_eq(format('select state, finished_at, keep_until from pgrun.jobs where id = %s', :kept_id),
  $$values ('completed', now(), now() + interval '1 day')$$, 'the job is completed and kept for the day');

-- TEST: a kept completed job is final: completing it again does nothing
select is_empty(format('select from pgrun.complete_jobs(array[%s]::bigint[])', :kept_id),
  'complete_jobs leaves a completed job alone and returns nothing for it');
select is_empty($$select from pgrun_tests.unlisted_queues()$$, 'no queue is left unlisted with a job');

select finish();
rollback;
