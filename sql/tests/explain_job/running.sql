begin;
select plan(4);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: a running job names its worker and since when, until the worker's lease ends
select id as job_id from pgrun.add_job('t', max_attempts => 5) \gset
select pgrun_tests.claim(1, 1);
select is((select reason from pgrun.explain_job(:job_id)),
  format('running: held by worker %s since %s (attempt 1 of 5)', pgrun_tests.worker(1),
         (select locked_at from pgrun.jobs where id = :job_id)),
  'held by worker W since T');
select is((select until from pgrun.explain_job(:job_id)),
  (select last_heartbeat_at + lease_timeout from pgrun._private_workers where worker_id = pgrun_tests.worker(1)),
  'until the end of its worker''s lease');

-- TEST: a cancel requested is said, with its reason
select pgrun.cancel_jobs(array[:job_id]::bigint[], 'wrong input');
select matches((select reason from pgrun.explain_job(:job_id)), '; a cancel was requested at .* \(wrong input\)$',
  'with the cancel request and its reason');

-- TEST: a worker that stopped beating is said to be presumed dead soon
update pgrun._private_workers set last_heartbeat_at = now() - interval '1 hour';
select matches((select reason from pgrun.explain_job(:job_id)),
  'its worker missed its heartbeats since .* and will be presumed dead',
  'a worker whose lease ran out is named as such');

select finish();
rollback;
