begin;
select plan(14);
select pgrun_tests.reset();

-- Compares everything but revision and updated_at of a job before and after.
create temporary table snapshot on commit drop as select * from pgrun.jobs with no data;

-- TEST: unsafe_dedupe with a key no job holds inserts the job
select id as new_id from pgrun.add_job('digest.send', '{"v": 1}', job_key => 'k-new',
  job_key_mode => 'unsafe_dedupe') \gset
select results_eq(
  format('select task_identifier, payload::text, key, revision from pgrun.jobs where id = %s', :new_id),
  $$values ('digest.send', '{"v": 1}', 'k-new', 0)$$,
  'a new job is inserted with its key and payload');

-- TEST: unsafe_dedupe on a pending job changes nothing but revision and updated_at
select id as pending_id from pgrun.add_job('old.task', '{"v": 1}', 'old-queue', now() + interval '1 hour',
  5, 'k-pending', 5, array['old-flag']) \gset
update pgrun._private_jobs set updated_at = updated_at - interval '1 minute' where id = :pending_id;
insert into snapshot select * from pgrun.jobs where id = :pending_id;
select is((pgrun.add_job('new.task', '{"v": 2}', 'new-queue', now() + interval '3 hours',
  7, 'k-pending', 3, array['new-flag'], 'unsafe_dedupe')).id, :pending_id::bigint,
  'the existing job is returned');
select results_eq(
  format('select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts, last_error,
                 created_at, key, locked_at, locked_by, flags, payload::text, errors, revision - 1
          from pgrun.jobs where id = %s', :pending_id),
  format('select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts, last_error,
                 created_at, key, locked_at, locked_by, flags, payload::text, errors, revision
          from snapshot where id = %s', :pending_id),
  'every column but revision (+1) is unchanged');
select is((select updated_at from pgrun.jobs where id = :pending_id), now(), 'updated_at is refreshed');

-- TEST: unsafe_dedupe on an attempted job leaves its attempts and error alone
select id as attempted_id from pgrun.add_job('attempted.task', '{"v": 1}', job_key => 'k-attempted') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['attempted.task'])).id, :attempted_id::bigint,
  'setup: worker 1 claims the keyed job');
select pgrun.fail_job(pgrun_tests.worker(1), :attempted_id, 'first try failed');
insert into snapshot select * from pgrun.jobs where id = :attempted_id;
select pgrun.add_job('attempted.task', '{"v": 2}', job_key => 'k-attempted', job_key_mode => 'unsafe_dedupe');
select results_eq(
  format('select payload::text, run_at, attempts, last_error, revision - 1 from pgrun.jobs where id = %s', :attempted_id),
  format('select payload::text, run_at, attempts, last_error, revision from snapshot where id = %s', :attempted_id),
  'payload, run_at, attempts and last_error are kept; revision + 1');

-- TEST: unsafe_dedupe on a running job leaves it running with its key; no job is inserted
select id as running_id from pgrun.add_job('running.task', '{"v": 1}', max_attempts => 4, job_key => 'k-running') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['running.task'])).id, :running_id::bigint,
  'setup: worker 1 claims the keyed job');
insert into snapshot select * from pgrun.jobs where id = :running_id;
select is((pgrun.add_job('running.task', '{"v": 2}', job_key => 'k-running', job_key_mode => 'unsafe_dedupe')).id,
  :running_id::bigint, 'the running job is returned');
select results_eq(
  format('select key, attempts, max_attempts, locked_at, locked_by, payload::text, revision - 1
          from pgrun.jobs where id = %s', :running_id),
  format('select key, attempts, max_attempts, locked_at, locked_by, payload::text, revision
          from snapshot where id = %s', :running_id),
  'it keeps its key, attempts, lock and payload; revision + 1');
select is((select count(*)::integer from pgrun.jobs where task_identifier = 'running.task'), 1,
  'no second job is inserted');

-- TEST: unsafe_dedupe on a job that used all its attempts leaves it failed; no job is inserted
select id as failed_id from pgrun.add_job('failed.task', max_attempts => 1, job_key => 'k-failed') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['failed.task'])).id, :failed_id::bigint,
  'setup: worker 1 claims the keyed job');
select pgrun.fail_job(pgrun_tests.worker(1), :failed_id, 'final failure');
select is((pgrun.add_job('failed.task', job_key => 'k-failed', job_key_mode => 'unsafe_dedupe')).id,
  :failed_id::bigint, 'the failed job is returned');
select results_eq(
  format('select key, attempts, last_error, revision from pgrun.jobs where id = %s', :failed_id),
  $$values ('k-failed', 1::smallint, 'final failure', 1)$$,
  'it keeps its key, attempts and error; revision + 1');

select is((select count(*)::integer from pgrun.jobs), 5, 'one job per key, nothing inserted over existing keys');

select finish();
rollback;
