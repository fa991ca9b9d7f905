begin;
select plan(27);
select pgrun_tests.reset();

-- TEST: replace (the default) with a key no job holds inserts a job with that key
select id as new_id from pgrun.add_job('report.build', job_key => 'k-new') \gset
select is((select key from pgrun.jobs where id = :new_id), 'k-new', 'a new key is stored on the new job');
select is((select revision from pgrun.jobs where id = :new_id), 0, 'a new job starts at revision 0');

-- TEST: replace of a pending, never attempted job updates it in place with every new value
select id as pending_id from pgrun.add_job('old.task', '{"v": 1}', 'old-queue', now() + interval '1 hour',
  5, 'k-pending', 5, array['old-flag']) \gset
select is((pgrun.add_job('new.task', '{"v": 2}', 'new-queue', now() + interval '2 hours',
  7, 'k-pending', 3, array['new-flag'])).id, :pending_id::bigint, 'the same job is returned');
select is((select count(*)::integer from pgrun.jobs where task_identifier in ('old.task', 'new.task')), 1,
  'no second job is inserted');
select results_eq(
  format('select task_identifier, queue_name, payload::text, run_at, max_attempts, priority, flags::text,
                 attempts, last_error, revision from pgrun.jobs where id = %s', :pending_id),
  $$values ('new.task', 'new-queue', '{"v": 2}', now() + interval '2 hours', 7::smallint, 3::smallint,
            '{"new-flag": true}', 0::smallint, null::text, 1)$$,
  'task, queue, payload, run_at, max_attempts, priority and flags take the new values; revision + 1');
select ok(exists (select from pgrun._private_job_queues where queue_name = 'new-queue'),
  'the new queue is created');

-- TEST: replace of a job that was attempted, failed and waits for its retry resets it in place
select id as attempted_id from pgrun.add_job('attempted.task', '{"v": 1}', job_key => 'k-attempted') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['attempted.task'])).id, :attempted_id::bigint,
  'setup: worker 1 claims the keyed job');
select pgrun.fail_job(pgrun_tests.worker(1), :attempted_id, 'first try failed');
select is((pgrun.add_job('attempted.task', '{"v": 2}', run_at => now() + interval '5 minutes',
  job_key => 'k-attempted')).id, :attempted_id::bigint, 'the attempted job is updated in place');
select results_eq(
  format('select payload::text, attempts, last_error, run_at, revision, locked_at
          from pgrun.jobs where id = %s', :attempted_id),
  $$values ('{"v": 2}', 0::smallint, null::text, now() + interval '5 minutes', 1, null::timestamptz)$$,
  'its attempts go back to 0, last_error is cleared, run_at is the new one, revision + 1');

-- TEST: replace of a running job: the running job loses its key and its retries, a fresh job takes the key
select id as running_id from pgrun.add_job('running.task', '{"v": 1}', max_attempts => 4, job_key => 'k-running') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['running.task'])).id, :running_id::bigint,
  'setup: worker 1 claims the keyed job');
select id as fresh_id from pgrun.add_job('running.task', '{"v": 2}', job_key => 'k-running') \gset
select isnt(:fresh_id::bigint, :running_id::bigint, 'a different job is returned');
select results_eq(
  format('select key, attempts, max_attempts, locked_by, payload::text from pgrun.jobs where id = %s', :running_id),
  format($$values (null::text, 4::smallint, 4::smallint, %L, '{"v": 1}')$$, pgrun_tests.worker(1)),
  'the running job has no key, attempts = max_attempts, and keeps running untouched otherwise');
select results_eq(
  format('select key, attempts, locked_at, payload::text, revision from pgrun.jobs where id = %s', :fresh_id),
  $$values ('k-running', 0::smallint, null::timestamptz, '{"v": 2}', 0)$$,
  'the fresh job holds the key, unlocked, with the new payload');
select is((pgrun.get_job(pgrun_tests.worker(2), array['running.task'])).id, :fresh_id::bigint,
  'the fresh job is claimable while the old one still runs');
select is((select count(*)::integer from pgrun.jobs where task_identifier = 'running.task'), 2,
  'both jobs exist');

-- TEST: replace of a job that used all its attempts: it keeps its history but loses its key; a fresh job takes the key
select id as failed_id from pgrun.add_job('failed.task', '{"v": 1}', max_attempts => 1, job_key => 'k-failed') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['failed.task'])).id, :failed_id::bigint,
  'setup: worker 1 claims the keyed job');
select is((pgrun.fail_job(pgrun_tests.worker(1), :failed_id, 'final failure')).attempts, 1::smallint,
  'setup: the job has used its only attempt');
select id as refreshed_id from pgrun.add_job('failed.task', '{"v": 2}', job_key => 'k-failed') \gset
select isnt(:refreshed_id::bigint, :failed_id::bigint, 'a different job is returned');
select results_eq(
  format('select key, attempts, max_attempts, last_error from pgrun.jobs where id = %s', :failed_id),
  $$values (null::text, 1::smallint, 1::smallint, 'final failure')$$,
  'the failed job stays for inspection, without its key, still failed');
select results_eq(
  format('select key, attempts, max_attempts, last_error, payload::text from pgrun.jobs where id = %s', :refreshed_id),
  $$values ('k-failed', 0::smallint, 25::smallint, null::text, '{"v": 2}')$$,
  'the fresh job holds the key with all its attempts');

-- TEST: add_job's result is the job as stored
select results_eq(
  $$select id, key, revision, task_identifier from pgrun.add_job('report.build', job_key => 'k-new')$$,
  format($$values (%s::bigint, 'k-new', 1, 'report.build')$$, :new_id),
  'the returned row is the updated job');

-- TEST: an explicit null job_key_mode means the default, replace
select is((pgrun.add_job('report.build', '{"again": true}', job_key => 'k-new', job_key_mode => null)).payload::text,
  '{"again": true}', 'a null job_key_mode replaces like the default');
select is((select revision from pgrun.jobs where key = 'k-new'), 2, 'and bumps the revision');

-- TEST: replace never touches a job with another key or no key
select is((select payload::text from pgrun.jobs where id = :pending_id), '{"v": 2}', 'k-pending job unchanged');
select is((select count(*)::integer from pgrun.jobs where key is not null), 5,
  'one keyed job per key: k-new, k-pending, k-attempted, k-running, k-failed');
select is((select count(*)::integer from pgrun.jobs), 7, 'seven jobs in all (two detached)');
select is((select count(*)::integer from pgrun.jobs where key is null and attempts = max_attempts), 2,
  'both detached jobs will not be retried');

select finish();
rollback;
