begin;
select plan(14);
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun_tests.register(2);

-- SETUP: provider "hub" may run 2 jobs at once; 6 of its jobs without a queue, 2 in
-- queue "tenant:a" (limit 3), and 3 plain jobs
select pgrun.set_limit('hub', max_running => 2);
select pgrun.set_limit('tenant:*', max_running => 3);
select pgrun.add_job('t', limit_keys => array['hub'], priority => 0) from generate_series(1, 6);
select pgrun.add_job('t', queue_name => 'tenant:a', limit_keys => array['hub'], priority => 1) from generate_series(1, 2);
select pgrun.add_job('t', priority => 2) from generate_series(1, 3);

-- TEST: a claim takes no more of a key than its room, and the jobs behind still run
create temporary table got as select * from pgrun_tests.claim(1, 20, array['t']);
select is((select count(*)::integer from got as g join pgrun._private_jobs as j on j.id = g.id
           where 'hub' = any(j.limit_keys)), 2, 'two hub jobs, its max_running');
select is((select count(*)::integer from got), 5, 'and the three plain jobs beside them');
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 2, 'hub counts two running');

-- TEST: a full key gives nothing more, to any worker, and says nothing to look again for
select is_empty($$select * from pgrun_tests.claim(2, 10, array['t'])$$, 'worker 2 gets nothing: hub is full');
select is((select look_again from pgrun.claim_jobs(pgrun_tests.worker(2), 10, array['t']) where id is null), false,
  'and the claim does not ask to look again');

-- TEST: each way an attempt ends gives the key its place back
select pgrun.complete_attempts(pgrun_tests.worker(1), array[(select min(id) from got where id in (
  select id from pgrun._private_jobs where 'hub' = any(limit_keys)))],
  array[(select lease from got where id = (select min(id) from got where id in (
  select id from pgrun._private_jobs where 'hub' = any(limit_keys))))]);
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 1, 'completed: hub counts one');
delete from got;
insert into got select * from pgrun_tests.claim(2, 10, array['t']);
select is((select count(*)::integer from got), 1, 'worker 2 takes the free place');
select pgrun.fail_attempts(pgrun_tests.worker(2), array[(select id from got)], array[(select lease from got)], array['boom']);
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 1, 'failed: back to one');
delete from got;
insert into got select * from pgrun_tests.claim(2, 10, array['t']);
select pgrun.return_attempts(pgrun_tests.worker(2), array[(select id from got)], array[(select lease from got)]);
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 1, 'returned: back to one');
delete from got;
insert into got select * from pgrun_tests.claim(2, 10, array['t']);
select pgrun.snooze_attempts(pgrun_tests.worker(2), array[(select id from got)], array[(select lease from got)],
  array[interval '1 hour']);
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 1, 'snoozed: back to one');
delete from got;
insert into got select * from pgrun_tests.claim(2, 10, array['t']);
select pgrun.cancel_jobs(array[(select id from got)]);
select pgrun.complete_attempts(pgrun_tests.worker(2), array[(select id from got)], array[(select lease from got)]);
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 1, 'cancelled: back to one');
delete from got;
insert into got select * from pgrun_tests.claim(2, 10, array['t']);
select pgrun.force_unlock_workers(array[pgrun_tests.worker(1), pgrun_tests.worker(2)]);
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 0,
  'released (force_unlock_workers): nothing runs, nothing is counted');
select ok(pgrun_tests.counters_exact(), 'every key''s counter equals its running jobs');

-- TEST: a job with a queue and a limit key is held by both
select pgrun.set_limit('hub', max_running => 10);
select pgrun.set_limit('tenant:*', max_running => 1);
select pgrun_tests.register(3);
select is((select count(*)::integer from pgrun_tests.claim(3, 10, array['t']) as c
           join pgrun._private_jobs as j on j.id = c.id where j.queue_name = 'tenant:a'), 1,
  'with hub free, its queue still lets one of its two jobs run');

select finish();
rollback;
