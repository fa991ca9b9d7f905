begin;
select plan(4);
-- No reset here until the end: rows this session changed would block the helper's sessions.
create extension if not exists dblink;

-- A NOTIFY serialises the commits of every transaction that sends one, so
-- short transactions send at most one per 2 ms. The tests record the last
-- nudge ahead of the clock, so that "within 2 ms of the last nudge" holds
-- however slowly this machine runs the next statement.

-- TEST: a short transaction within 2 ms of the last nudge sends nothing
-- (the session's first add_job compiles it, which can take a loaded machine
-- past 10 ms: a "long" transaction, which nudges. So one add_job first, while
-- no worker is idle, when it sends nothing.)
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''notify.probe'')',
      'select pgrun_tests.idle_worker(1)',
      'select pgrun_tests.nudged_at(clock_timestamp() + interval ''1 hour'')',
      'select pgrun.add_job(''notify.probe'')'],
      debounced => true)$$,
  'add_job right after another nudge is debounced');

-- TEST: a long transaction always sends its own nudge (its commit may come
-- long after the last one)
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.idle_worker(1)',
      'select pgrun_tests.nudged_at(clock_timestamp() + interval ''1 hour'')',
      -- 20 ms pass inside the transaction before the add: it is longer than the window
      'select pgrun.add_job(''notify.probe'') from (select pg_sleep(0.02)) as s'],
      debounced => true)$$,
  $$values ('')$$,
  'a transaction older than 10 ms notifies even right after another nudge');

-- TEST: once the window has passed, a short transaction nudges again
select results_eq(
  $$select payload from pgrun_tests.notifications_from(array[
      'select pgrun.add_job(''notify.probe'')',  -- compiled first, as above
      'select pgrun_tests.idle_worker(1)',
      'select pgrun_tests.nudged_at(clock_timestamp() - interval ''3 milliseconds'')',
      'select pgrun.add_job(''notify.probe'')'],
      debounced => true)$$,
  $$values ('')$$,
  'add_job 3 ms after the last nudge notifies');

-- TEST: a nudge records when it was sent, for the next transactions' window
select pgrun_tests.reset();
select pgrun_tests.idle_worker(1);
select pgrun._notify_jobs();
select ok((select to_timestamp(last_value / 1000000.0) from pgrun._private_last_nudge) >= now(),
  'the last nudge is recorded as the moment it was sent');

select finish();
rollback;
