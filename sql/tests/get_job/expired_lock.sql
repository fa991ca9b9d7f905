begin;
select plan(9);
select pgrun_tests.reset();

-- SETUP: worker 1 claimed one job five hours ago and another three hours ago, then went silent
select id as old_id from pgrun.add_job('t', run_at => now() - interval '6 hours') \gset
select id as recent_id from pgrun.add_job('t', run_at => now() - interval '6 hours', priority => 1) \gset
select id as spent_id from pgrun.add_job('t', run_at => now() - interval '6 hours', priority => 2, max_attempts => 1) \gset
select is((pgrun.get_job(pgrun_tests.worker(1), now => now() - interval '5 hours')).id, :old_id::bigint,
  'setup: worker 1 claimed a job five hours ago');
select is((pgrun.get_job(pgrun_tests.worker(1), now => now() - interval '3 hours')).id, :recent_id::bigint,
  'setup: worker 1 claimed another three hours ago');
select is((pgrun.get_job(pgrun_tests.worker(1), now => now() - interval '5 hours')).id, :spent_id::bigint,
  'setup: worker 1 claimed the single-attempt job five hours ago');

-- TEST: a lock older than job_expiry (4 hours by default) is reclaimed, the attempt counted again
select is((pgrun.get_job(pgrun_tests.worker(2))).id, :old_id::bigint, 'worker 2 reclaims the five-hour-old job');
select results_eq(
  format('select attempts, locked_at, locked_by from pgrun.jobs where id = %s', :old_id),
  format($$values (2::smallint, now(), %L)$$, pgrun_tests.worker(2)),
  'it is locked to worker 2 now, with a second attempt counted');

-- TEST: a lock younger than job_expiry is respected
select ok((pgrun.get_job(pgrun_tests.worker(2))).id is null, 'the three-hour-old lock holds');
select is((select locked_by from pgrun.jobs where id = :recent_id), pgrun_tests.worker(1),
  'that job still belongs to worker 1');

-- TEST: job_expiry is the caller's to choose
select is((pgrun.get_job(pgrun_tests.worker(2), job_expiry => interval '2 hours')).id, :recent_id::bigint,
  'with a 2 hour expiry the three-hour-old lock is reclaimed');

-- TEST: an expired job without attempts left is not claimed again
select ok((pgrun.get_job(pgrun_tests.worker(3))).id is null, 'the expired single-attempt job stays unclaimed');

select finish();
rollback;
