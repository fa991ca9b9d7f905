begin;
select plan(16);
select pgrun_tests.reset();

-- TEST: preserve_run_at with a key no job holds inserts with the given run_at
select id as new_id from pgrun.add_job('digest.send', job_key => 'k-new',
  run_at => now() + interval '1 hour', job_key_mode => 'preserve_run_at') \gset
select is((select run_at from pgrun.jobs where id = :new_id), now() + interval '1 hour',
  'a new job gets the given run_at');
select is((select key from pgrun.jobs where id = :new_id), 'k-new', 'and the key');

-- TEST: preserve_run_at on a never attempted job keeps its run_at but takes every other new value
select id as pending_id from pgrun.add_job('old.task', '{"v": 1}', 'old-queue', now() + interval '1 hour',
  5, 'k-pending', 5, array['old-flag']) \gset
select is((pgrun.add_job('new.task', '{"v": 2}', 'new-queue', now() + interval '3 hours',
  7, 'k-pending', 3, array['new-flag'], 'preserve_run_at')).id, :pending_id::bigint,
  'the same job is updated in place');
select results_eq(
  format('select task_identifier, queue_name, payload::text, run_at, max_attempts, priority, flags::text,
                 attempts, revision from pgrun.jobs where id = %s', :pending_id),
  $$values ('new.task', 'new-queue', '{"v": 2}', now() + interval '1 hour', 7::smallint, 3::smallint,
            '{"new-flag": true}', 0::smallint, 1)$$,
  'run_at stays; task, queue, payload, max_attempts, priority, flags are new; revision + 1');
select is((pgrun.add_job('new.task', job_key => 'k-pending', job_key_mode => 'preserve_run_at')).run_at,
  now() + interval '1 hour', 'a null run_at keeps the existing run_at as well');

-- TEST: preserve_run_at on a job that was attempted takes the new run_at (the retry time is not worth keeping)
select id as attempted_id from pgrun.add_job('attempted.task', '{"v": 1}', job_key => 'k-attempted') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['attempted.task'])).id, :attempted_id::bigint,
  'setup: worker 1 claims the keyed job');
select pgrun.fail_job(pgrun_tests.worker(1), :attempted_id, 'first try failed');
select is((pgrun.add_job('attempted.task', '{"v": 2}', run_at => now() + interval '5 minutes',
  job_key => 'k-attempted', job_key_mode => 'preserve_run_at')).id, :attempted_id::bigint,
  'the attempted job is updated in place');
select results_eq(
  format('select run_at, attempts, last_error, revision from pgrun.jobs where id = %s', :attempted_id),
  $$values (now() + interval '5 minutes', 0::smallint, null::text, 1)$$,
  'it takes the new run_at, attempts 0, last_error cleared, revision + 1');

-- TEST: preserve_run_at on a running job detaches it and inserts a fresh job, as replace does
select id as running_id from pgrun.add_job('running.task', max_attempts => 4, job_key => 'k-running') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['running.task'])).id, :running_id::bigint,
  'setup: worker 1 claims the keyed job');
select id as fresh_id from pgrun.add_job('running.task', run_at => now() + interval '10 minutes',
  job_key => 'k-running', job_key_mode => 'preserve_run_at') \gset
select results_eq(
  format('select key, attempts, locked_by from pgrun.jobs where id = %s', :running_id),
  format($$values (null::text, 4::smallint, %L)$$, pgrun_tests.worker(1)),
  'the running job loses its key and its retries but keeps running');
select results_eq(
  format('select id <> %s, key, run_at, attempts from pgrun.jobs where id = %s', :running_id, :fresh_id),
  $$values (true, 'k-running', now() + interval '10 minutes', 0::smallint)$$,
  'a fresh job takes the key with the given run_at');

-- TEST: preserve_run_at on a job that used all its attempts detaches it and inserts a fresh job
select id as failed_id from pgrun.add_job('failed.task', max_attempts => 1, job_key => 'k-failed',
  run_at => now() - interval '1 minute') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['failed.task'])).id, :failed_id::bigint,
  'setup: worker 1 claims the keyed job');
select pgrun.fail_job(pgrun_tests.worker(1), :failed_id, 'final failure');
select id as refreshed_id from pgrun.add_job('failed.task', run_at => now() + interval '10 minutes',
  job_key => 'k-failed', job_key_mode => 'preserve_run_at') \gset
select results_eq(
  format('select key, attempts, last_error from pgrun.jobs where id = %s', :failed_id),
  $$values (null::text, 1::smallint, 'final failure')$$,
  'the failed job stays, without its key');
select results_eq(
  format('select id <> %s, key, run_at, attempts from pgrun.jobs where id = %s', :failed_id, :refreshed_id),
  $$values (true, 'k-failed', now() + interval '10 minutes', 0::smallint)$$,
  'a fresh job takes the key with the given run_at');

-- TEST: the batch payload rule holds in preserve_run_at mode too
select pgrun.add_job('batch.task', '[1]', job_key => 'k-batch', job_key_mode => 'preserve_run_at');
select is((pgrun.add_job('batch.task', '[2]', job_key => 'k-batch', job_key_mode => 'preserve_run_at')).payload::text,
  '[1, 2]', 'array payloads are appended');
select is((select count(*)::integer from pgrun.jobs), 8, 'eight jobs in all (two detached)');

select finish();
rollback;
