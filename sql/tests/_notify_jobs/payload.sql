begin;
select plan(5);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- TEST: a job due now is a bare nudge (empty payload)
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array['select pgrun.add_job(''notify.probe'')'])$$,
  $$values ('')$$,
  'a job due now sends an empty payload');

-- TEST: a job due later says when, as epoch seconds, so workers can set a timer
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''notify.probe'', run_at => ''2100-01-01T00:00:00Z'')'])$$,
  $$values (extract(epoch from timestamptz '2100-01-01T00:00:00Z')::text)$$,
  'a future job sends its run_at in epoch seconds');

-- TEST: add_jobs sends one notification, for its earliest job
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun.add_jobs(array[
         (''a'', null, null, ''2100-01-02T00:00:00Z'', null, null, null, null)::pgrun.job_spec,
         (''a'', null, null, ''2100-01-01T00:00:00Z'', null, null, null, null)::pgrun.job_spec])'])$$,
  $$values (extract(epoch from timestamptz '2100-01-01T00:00:00Z')::text)$$,
  'add_jobs notifies once with the earliest run_at');
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun.add_jobs(array[
         (''a'', null, null, ''2100-01-02T00:00:00Z'', null, null, null, null)::pgrun.job_spec,
         (''a'', null, null, null, null, null, null, null)::pgrun.job_spec])'])$$,
  $$values ('')$$,
  'add_jobs with any job due now sends a nudge');

-- TEST: reschedule_jobs moving a job later says when
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''a'', run_at => ''2100-01-03T00:00:00Z'', job_key => ''r'')',
      'select pgrun.reschedule_jobs(array(select id from pgrun.jobs where key = ''r''), run_at => ''2100-01-01T00:00:00Z'')'])$$,
  $$values (extract(epoch from timestamptz '2100-01-03T00:00:00Z')::text),
           (extract(epoch from timestamptz '2100-01-01T00:00:00Z')::text)$$,
  'add_job then reschedule_jobs each notify with their run_at');

select finish();
rollback;
