begin;
select plan(3);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- TEST: a retry wakes idle workers once it commits
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''retry.probe'', job_key => ''retry-probe'')',
      'select pgrun.permanently_fail_jobs(array(select id from pgrun._private_jobs where key = ''retry-probe''))',
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.retry_jobs(array(select id from pgrun._private_jobs where key = ''retry-probe''))'])$$,
  $$values ('pgrun:jobs')$$,
  'one notification on pgrun:jobs, from the retry');

-- TEST: resuming a queue or a task wakes idle workers too; pausing does not
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun.pause_queue(''retry.q'')',
      'select pgrun.pause_task(''retry.t'')',
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.resume_queue(''retry.q'')',
      'select pgrun.resume_task(''retry.t'')'])$$,
  $$values ('pgrun:jobs'), ('pgrun:jobs')$$,
  'one notification per resume, none per pause');

-- TEST: a resume that changes nothing wakes nobody
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.resume_task(''retry.never.paused'')'])$$,
  'no notification from a resume of a task that was not paused');

select finish();
rollback;
