begin;
select plan(4);
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun_tests.register(2, now => now(), heartbeat_interval => '1 second', lease_timeout => '2 seconds');
select pgrun_tests.register(3);

-- TEST: an attempt ended by its timeout gives its limit key its place back
select pgrun.set_limit('hub', max_running => 5);
select pgrun.add_job('t', limit_keys => array['hub'], timeout => interval '1 second', max_attempts => 3);
select is((select count(*)::integer from pgrun_tests.claim(1, 10, array['t'])), 1, 'worker 1 runs the job');
select pgrun._time_out_attempts(now() + interval '2 minutes');
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 0,
  'timed out: hub counts nothing running');

-- TEST: so does a worker presumed dead and reaped
select pgrun.add_job('u', limit_keys => array['hub']);
select is((select count(*)::integer from pgrun_tests.claim(2, 10, array['u'])), 1, 'worker 2 runs the other');
select pgrun_tests.beat_steadily(3, now(), now() + interval '1 minute');
select pgrun.reap_workers(pgrun_tests.worker(3), now() + interval '1 minute');
select is((select running from pgrun._private_job_queues where queue_name = 'hub'), 0,
  'worker 2 reaped: hub counts nothing running');

select finish();
rollback;
