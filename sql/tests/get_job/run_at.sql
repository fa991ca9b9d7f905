begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: jobs due in an hour, with and without a named queue
select id as future_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select id as queued_future_id from pgrun.add_job('t', queue_name => 'q', run_at => now() + interval '1 hour') \gset

-- TEST: a job whose run_at is still to come is not claimed
select ok((pgrun.get_job(pgrun_tests.worker(1))).id is null, 'nothing is claimable now');
select ok((pgrun.get_job(pgrun_tests.worker(1), now => now() + interval '59 minutes')).id is null,
  'nor a minute before run_at');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0,
  'the queue counts nothing running after a claim that found nothing');

-- TEST: once now reaches run_at the jobs are claimable
select is((pgrun.get_job(pgrun_tests.worker(1), now => now() + interval '1 hour')).id, :future_id::bigint,
  'the unqueued job is claimed at its run_at');
select is((pgrun.get_job(pgrun_tests.worker(2), now => now() + interval '1 hour')).id, :queued_future_id::bigint,
  'the queued job is claimed at its run_at');

select finish();
rollback;
