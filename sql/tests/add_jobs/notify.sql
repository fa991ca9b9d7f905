begin;
select plan(3);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- TEST: a committed add_jobs wakes idle listening workers on channel 'pgrun:jobs'
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_jobs(array[row(''notify.probe'', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
                                   row(''notify.probe'', null, null, null, null, ''k'', null, null, null, null)::pgrun.job_spec])'])$$,
  $$values ('pgrun:jobs')$$,
  'one notification on pgrun:jobs after add_jobs commits');

-- TEST: the path for repeated keys notifies too
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_jobs(array[row(''notify.probe'', null, null, null, null, ''k'', null, null, null, null)::pgrun.job_spec,
                                   row(''notify.probe'', null, null, null, null, ''k'', null, null, null, null)::pgrun.job_spec])'])$$,
  $$values ('pgrun:jobs')$$,
  'a notification after add_jobs with a repeated key commits');

-- TEST: a rolled back add_jobs wakes nobody
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_jobs(array[row(''notify.probe'', null, null, null, null, null, null, null, null, null)::pgrun.job_spec])'],
      committed => false)$$,
  'no notification after add_jobs is rolled back');

select finish();
rollback;
