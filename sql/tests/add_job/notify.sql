begin;
select plan(4);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- TEST: a committed add_job wakes idle listening workers on channel 'pgrun:jobs'
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)', 'select pgrun.add_job(''notify.probe'')'])$$,
  $$values ('pgrun:jobs')$$,
  'one notification on pgrun:jobs after add_job commits');

-- TEST: keyed add_job notifies in every mode and state
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_job(''notify.probe'', job_key => ''k'')',
      'select pgrun.add_job(''notify.probe'', job_key => ''k'')',
      'select pgrun.add_job(''notify.probe'', job_key => ''k'', job_key_mode => ''unsafe_dedupe'')'])$$,
  $$values ('pgrun:jobs'), ('pgrun:jobs'), ('pgrun:jobs')$$,
  'insert, replace and unsafe_dedupe each notify');

-- TEST: the notification belongs to the transaction: a rolled back add_job wakes nobody
select is_empty(
  $$select from pgrun_tests.notifications_from(array['select pgrun_tests.idle_worker(1)',
                                                     'select pgrun.add_job(''notify.probe'')'],
                                               committed => false)$$,
  'no notification after add_job is rolled back');

-- TEST: the helper itself can tell silence from a notification
select is_empty(
  $$select from pgrun_tests.notifications_from(array['select pgrun_tests.idle_worker(1)', 'select 1'])$$,
  'a query that adds no job sends nothing');

select finish();
rollback;
