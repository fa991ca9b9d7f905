begin;
select plan(8);
create extension if not exists dblink;

-- cancel_requests(worker_id): the attempts this worker runs whose cancel was
-- asked, with each one's lease and reason; nobody else's, and nothing else.

-- TEST: bad input
select throws_ok($$select * from pgrun.cancel_requests(null)$$, '22004', 'worker_id must not be null',
  'a null worker id is refused');

-- TEST: a cancel tells the worker that runs the job, on "pgrun:cancel", once it commits (real sessions)
select results_eq(
  $$select channel, payload from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)', 'select pgrun_tests.register(2)',
      'select pgrun.add_job(''t'', run_at => now() - interval ''2 minutes'')',
      'select pgrun.add_job(''t'', run_at => now() - interval ''1 minute'')',
      'select pgrun.add_job(''t'')',
      'select pgrun_tests.claim(1, 1)', 'select pgrun_tests.claim(2, 1)',
      'select pgrun.cancel_jobs(array(select id from pgrun._private_jobs order by id))'])
    where channel = 'pgrun:cancel' order by payload$$,
  $$values ('pgrun:cancel', 'test-worker-1'), ('pgrun:cancel', 'test-worker-2')$$,
  'one notification per worker that runs a cancelled job; a waiting job''s cancel tells nobody');
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)', 'select pgrun.add_job(''t'')', 'select pgrun_tests.claim(1, 1)',
      'select pgrun.cancel_jobs(array(select id from pgrun._private_jobs))'], committed => false)
    where channel = 'pgrun:cancel'$$,
  'a cancel rolled back tells nobody');

-- SETUP: worker 1 runs three jobs, worker 2 one; cancels asked for two of 1's and 2's
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun_tests.register(2);
select pgrun.add_job('t', run_at => now() - interval '4 minutes');
select pgrun.add_job('t', run_at => now() - interval '3 minutes');
select pgrun.add_job('t', run_at => now() - interval '2 minutes');
select pgrun.add_job('t', run_at => now() - interval '1 minute');
select id as waiting from pgrun.add_job('t') \gset
create temporary table one as select * from pgrun_tests.claim(1, 3);
create temporary table two as select * from pgrun_tests.claim(2, 1);
select is_empty($$select * from pgrun.cancel_requests(pgrun_tests.worker(1))$$, 'nothing asked, nothing answered');
select pgrun.cancel_jobs(array(select id from one order by id limit 2), 'changed my mind');
select pgrun.cancel_jobs(array(select id from two) || :waiting::bigint, null);

-- TEST: each worker learns of its own attempts only, with their leases and reasons
select results_eq($$select job_id, lease, reason from pgrun.cancel_requests(pgrun_tests.worker(1))$$,
  $$select id, lease, 'changed my mind' from one order by id limit 2$$,
  'worker 1: its two cancelled attempts, each with its lease and the reason');
select results_eq($$select job_id, lease, reason from pgrun.cancel_requests(pgrun_tests.worker(2))$$,
  $$select id, lease, null::text from two$$, 'worker 2: its one, without a reason');
select is_empty($$select * from pgrun.cancel_requests('test-worker-unknown')$$, 'an unknown worker: nothing');

-- TEST: once the attempt ends, it is no longer asked about
select pgrun.complete_attempts(pgrun_tests.worker(2), array(select id from two), array(select lease from two));
select is_empty($$select * from pgrun.cancel_requests(pgrun_tests.worker(2))$$,
  'an attempt that ended (cancelled) is not listed any more');

select * from finish();
rollback;
