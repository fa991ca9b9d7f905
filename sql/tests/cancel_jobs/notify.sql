begin;
select plan(2);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- TEST: cancelling running jobs tells each of their workers once, on "<schema>:cancel"
select results_eq(
  $$select channel, payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)', 'select pgrun_tests.register(2)',
      'select pgrun.add_job(''cancel.probe'') from generate_series(1, 3)',
      'select pgrun_tests.claim(1, 2)', 'select pgrun_tests.claim(2, 1)',
      'select pgrun.cancel_jobs(array(select id from pgrun._private_jobs where task_identifier = ''cancel.probe''))'])
    where channel = 'pgrun:cancel' order by payload$$,
  $$values ('pgrun:cancel', 'test-worker-1'), ('pgrun:cancel', 'test-worker-2')$$,
  'one notification per worker, its id as payload');

-- TEST: cancelling waiting jobs tells no worker
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''cancel.probe'')',
      'select pgrun.cancel_jobs(array(select id from pgrun._private_jobs where task_identifier = ''cancel.probe''))'])
    where channel = 'pgrun:cancel'$$,
  'no notification for jobs nobody runs');

select finish();
rollback;
