begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: worker 1 runs a job of queue q; another job waits in q
select id as job_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '1 minute') \gset
select id as next_id from pgrun.add_job('t', queue_name => 'q') \gset
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :job_id::bigint, 'setup: worker 1 claims the job');

-- TEST: complete_job deletes the job, returns it and frees its queue
select is((pgrun.complete_job(pgrun_tests.worker(1), :job_id)).id, :job_id::bigint,
  'complete_job returns the deleted job');
select is_empty(format('select from pgrun.jobs where id = %s', :job_id), 'the job is gone');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0,
  'queue q runs nothing');
select is((pgrun.get_job(pgrun_tests.worker(2))).id, :next_id::bigint, 'the next job of q can run');

select finish();
rollback;
