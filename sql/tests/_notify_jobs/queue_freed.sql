begin;
select plan(6);
-- No reset here: rows this session deleted would block the helper's sessions.
create extension if not exists dblink;

-- TEST: finishing a job of a full named queue that has a next job ready wakes
-- idle workers (that job may be for a worker with other tasks)
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.add_job(''a'', queue_name => ''q'', run_at => now() - interval ''1 minute'')',
      'select pgrun.add_job(''a'', queue_name => ''q'')',
      'select pgrun.claim_jobs(pgrun_tests.worker(1), 1)',
      'select pgrun_tests.idle_worker(2)',
      'select pgrun.complete_held_jobs(pgrun_tests.worker(1), array(select min(id) from pgrun.jobs))'])$$,
  $$values ('')$$,
  'complete_held_jobs freeing a queue with a job ready sends a nudge');
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.add_job(''a'', queue_name => ''q'', run_at => now() - interval ''1 minute'')',
      'select pgrun.add_job(''a'', queue_name => ''q'')',
      'select pgrun.claim_jobs(pgrun_tests.worker(1), 1)',
      'select pgrun_tests.idle_worker(2)',
      'select pgrun.fail_held_jobs(pgrun_tests.worker(1), array(select min(id) from pgrun.jobs), array[''boom''])'])$$,
  $$values ('')$$,
  'fail_held_jobs freeing a queue with a job ready sends a nudge');

-- TEST: a freed queue with nothing ready wakes nobody (fault 11)
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.add_job(''a'', queue_name => ''q'')',
      'select pgrun.claim_jobs(pgrun_tests.worker(1), 1)',
      'select pgrun_tests.idle_worker(2)',
      'select pgrun.complete_held_jobs(pgrun_tests.worker(1), array(select id from pgrun.jobs))'])$$,
  'completing the last job of a queue sends nothing');
-- TEST: a retry due within a minute nudges idle workers, whose next claim
-- says when it is due (fault 6: a retry scheduled by another worker)
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.add_job(''a'', queue_name => ''q'')',
      'select pgrun.claim_jobs(pgrun_tests.worker(1), 1)',
      'select pgrun_tests.idle_worker(2)',
      'select pgrun.fail_held_jobs(pgrun_tests.worker(1), array(select id from pgrun.jobs), array[''boom''])'])$$,
  $$values ('')$$,
  'failing the only job of a queue with its retry due in seconds sends one nudge');
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.add_job(''a'', queue_name => ''q'')',
      'select pgrun.reschedule_jobs(array(select id from pgrun.jobs), attempts => 8)',
      'select pgrun.claim_jobs(pgrun_tests.worker(1), 1)',
      'select pgrun_tests.idle_worker(2)',
      'select pgrun.fail_held_jobs(pgrun_tests.worker(1), array(select id from pgrun.jobs), array[''boom''])'])$$,
  'failing the only job of a queue with its retry due in hours sends nothing');

-- TEST: finishing a job without a queue sends nothing
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.add_job(''a'')',
      'select pgrun.claim_jobs(pgrun_tests.worker(1), 1)',
      'select pgrun_tests.idle_worker(2)',
      'select pgrun.complete_held_jobs(pgrun_tests.worker(1), array(select id from pgrun.jobs))'])$$,
  'completing a job outside any queue sends nothing');

select finish();
rollback;
