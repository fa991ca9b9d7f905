begin;
select plan(2);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- The one-statement completion of queued jobs (queued_one_statement.sql)
-- nudges idle workers as the long way does.

-- TEST: completing the job of a full queue that has a job ready nudges idle
-- workers once (committed sessions: a NOTIFY leaves only a committed transaction)
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(2)',
      'select pgrun.add_job(''t'', queue_name => ''serial'') from generate_series(1, 2)',
      'select pgrun_tests.claim(2, 1)',
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.complete_attempts(pgrun_tests.worker(2), array_agg(id), array_agg(lease))
       from pgrun._private_jobs where state = ''running''']) where channel = 'pgrun:jobs'$$,
  $$values ('pgrun:jobs')$$,
  'serial has room again and a job ready: one nudge');
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(2)',
      'select pgrun.add_job(''t'', queue_name => ''serial'')',
      'select pgrun_tests.claim(2, 1)',
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.complete_attempts(pgrun_tests.worker(2), array_agg(id), array_agg(lease))
       from pgrun._private_jobs where state = ''running''']) where channel = 'pgrun:jobs'$$,
  'a freed queue with nothing ready wakes nobody');

select finish();
rollback;
