begin;
select plan(13);
select pgrun_tests.reset();

-- SETUP: two jobs in queue "q", two in queue "r"
select id as q1_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '4 minutes') \gset
select id as q2_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '3 minutes') \gset
select id as r1_id from pgrun.add_job('t', queue_name => 'r', run_at => now() - interval '2 minutes') \gset
select id as r2_id from pgrun.add_job('t', queue_name => 'r', run_at => now() - interval '1 minute') \gset

-- TEST: a named queue runs one job at a time
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :q1_id::bigint, 'worker 1 claims the head of q');
select is((pgrun.get_job(pgrun_tests.worker(2))).id, :r1_id::bigint,
  'worker 2 skips the second job of locked q and claims the head of r');
select ok((pgrun.get_job(pgrun_tests.worker(3))).id is null, 'worker 3 finds both queues busy');
select results_eq(
  $$select queue_name, running, max_running from pgrun._private_job_queues order by queue_name$$,
  $$values ('q', 1, 1), ('r', 1, 1)$$,
  'each queue runs its one job, as many as it may');

-- TEST: completing the running job frees the queue for its next job
select pgrun.complete_job(pgrun_tests.worker(1), :q1_id);
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0, 'q is free again');
select is((pgrun.get_job(pgrun_tests.worker(3))).id, :q2_id::bigint, 'worker 3 claims the next job of q');

-- TEST: failing the running job frees the queue too; the failed job waits for its retry
select pgrun.fail_job(pgrun_tests.worker(2), :r1_id, 'boom');
select is((select running from pgrun._private_job_queues where queue_name = 'r'), 0, 'r is free again');
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :r2_id::bigint,
  'worker 1 claims the next job of r while the failed one waits');

-- TEST: the failed job runs once its retry time has come and the queue has room
select pgrun.complete_job(pgrun_tests.worker(1), :r2_id);
select ok((pgrun.get_job(pgrun_tests.worker(2))).id is null,
  'before its run_at the retry is not claimable, though r is free');
select id as r3_id from pgrun.add_job('t', queue_name => 'r') \gset
select is((pgrun.get_job(pgrun_tests.worker(3))).id, :r3_id::bigint,
  'setup: worker 3 claims a new job of r while the retry waits for its run_at');
select ok((pgrun.get_job(pgrun_tests.worker(2), now => now() + interval '1 minute')).id is null,
  'r is full again, so its retry waits even after its run_at');
select pgrun.complete_job(pgrun_tests.worker(3), :r3_id);
select is((pgrun.get_job(pgrun_tests.worker(2), now => now() + interval '1 minute')).id, :r1_id::bigint,
  'after its run_at, with r free, the retry is claimed');
select is((select attempts from pgrun.jobs where id = :r1_id), 2::smallint, 'as its second attempt');

select finish();
rollback;
