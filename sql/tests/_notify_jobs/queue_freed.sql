begin;
select plan(3);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- TEST: finishing a job of a named queue wakes every worker (the next job of
-- the queue may be for a worker with other tasks)
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''a'', queue_name => ''q'', run_at => now() + interval ''1 day'')',
      'select pgrun.reschedule_jobs(array(select id from pgrun.jobs), run_at => now() - interval ''1 minute'')',
      'select pgrun.get_job(''test-worker-1'')',
      'select pgrun.complete_held_jobs(''test-worker-1'', array(select id from pgrun.jobs))'])
    offset 2$$,
  $$values ('')$$,
  'complete_held_jobs freeing a queue sends a nudge');
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''a'', queue_name => ''q'', run_at => now() + interval ''1 day'')',
      'select pgrun.reschedule_jobs(array(select id from pgrun.jobs), run_at => now() - interval ''1 minute'')',
      'select pgrun.get_job(''test-worker-1'')',
      'select pgrun.fail_held_jobs(''test-worker-1'', array(select id from pgrun.jobs), array[''boom''])'])
    offset 2$$,
  $$values ('')$$,
  'fail_held_jobs freeing a queue sends a nudge');

-- TEST: finishing a job without a queue sends nothing
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''a'', run_at => now() + interval ''1 day'')',
      'select pgrun.reschedule_jobs(array(select id from pgrun.jobs), run_at => now() - interval ''1 minute'')',
      'select pgrun.get_job(''test-worker-1'')',
      'select pgrun.complete_held_jobs(''test-worker-1'', array(select id from pgrun.jobs))'])
    offset 2$$,
  'completing a job outside any queue sends nothing');

select finish();
rollback;
