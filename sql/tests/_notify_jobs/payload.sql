begin;
select plan(6);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- TEST: with no idle worker nobody needs a nudge: add_job sends nothing
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.add_job(''notify.probe'')'])$$,
  'no NOTIFY while every worker is busy (none idle)');

-- TEST: with an idle worker a job due now is a bare nudge (empty payload)
select results_eq(
  $$select channel, payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_job(''notify.probe'')'])$$,
  $$values ('pgrun:jobs', '')$$,
  'a job due now sends an empty payload on pgrun:jobs');

-- TEST: a job due later is a bare nudge too: the claim it causes says when
-- the job is due (next_due_in), in database time
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_job(''notify.probe'', run_at => ''2100-01-01T00:00:00Z'')'])$$,
  $$values ('')$$,
  'a future job sends an empty payload');

-- TEST: add_jobs sends one nudge for all its jobs
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_jobs(array[
         (''a'', null, null, ''2100-01-02T00:00:00Z'', null, null, null, null, null, null)::pgrun.job_spec,
         (''a'', null, null, null, null, null, null, null, null, null)::pgrun.job_spec])'])$$,
  $$values ('')$$,
  'add_jobs notifies once');

-- TEST: reschedule_jobs nudges like an add
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_job(''a'', run_at => ''2100-01-03T00:00:00Z'', job_key => ''r'')',
      'select pgrun.reschedule_jobs(array(select id from pgrun.jobs where key = ''r''), run_at => ''2100-01-01T00:00:00Z'')'])$$,
  $$values (''), ('')$$,
  'add_job then reschedule_jobs each notify');

-- TEST: the worker's next full claim clears its idle mark, and the nudges stop
select is(
  (select count(*)::integer from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun.add_job(''a'')',
      'select pgrun.claim_jobs(pgrun_tests.worker(1), 1)',
      'select pgrun.add_job(''a'')'])),
  1, 'only the add before the worker''s full claim notifies');

select finish();
rollback;
