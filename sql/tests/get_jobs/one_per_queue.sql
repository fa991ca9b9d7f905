begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: three jobs in queue q, two in queue r, two without a queue
select id as q1_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '7 minutes') \gset
select id as q2_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '6 minutes') \gset
select id as q3_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '5 minutes') \gset
select id as r1_id from pgrun.add_job('t', queue_name => 'r', run_at => now() - interval '4 minutes') \gset
select id as r2_id from pgrun.add_job('t', queue_name => 'r', run_at => now() - interval '3 minutes') \gset
select id as u1_id from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select id as u2_id from pgrun.add_job('t', run_at => now() - interval '1 minute') \gset

-- TEST: a batch claim never takes two jobs from one named queue
select set_eq(
  $$select id from pgrun.get_jobs(pgrun_tests.worker(1), max_jobs => 10)$$,
  format('values (%s::bigint), (%s), (%s), (%s)', :q1_id, :r1_id, :u1_id, :u2_id),
  'the heads of q and r and both unqueued jobs are claimed');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('q', 1), ('r', 1)$$,
  'both queues run one job each');
select is_empty($$select from pgrun.get_jobs(pgrun_tests.worker(2), max_jobs => 10)$$,
  'a second worker finds only jobs behind locked queues');

-- TEST: once the queues are freed the next batch takes their next heads
select pgrun.complete_held_jobs(pgrun_tests.worker(1), array[:q1_id, :r1_id]::bigint[]);
select set_eq(
  $$select id from pgrun.get_jobs(pgrun_tests.worker(2), max_jobs => 10)$$,
  format('values (%s::bigint), (%s)', :q2_id, :r2_id),
  'the second jobs of q and r are claimed, one each');

-- TEST: max_jobs caps the batch, taking jobs in claim order
select pgrun.complete_held_jobs(pgrun_tests.worker(2), array[:q2_id, :r2_id]::bigint[]);
select pgrun.force_unlock_workers(array[pgrun_tests.worker(1)]);
select set_eq(
  $$select id from pgrun.get_jobs(pgrun_tests.worker(3), max_jobs => 2)$$,
  format('values (%s::bigint), (%s)', :q3_id, :u1_id),
  'max_jobs 2 takes the two earliest runnable jobs');

-- TEST: max_jobs below 1 claims nothing
select is_empty($$select from pgrun.get_jobs(pgrun_tests.worker(3), max_jobs => 0)$$,
  'max_jobs 0 returns no rows and claims nothing');

select finish();
rollback;
