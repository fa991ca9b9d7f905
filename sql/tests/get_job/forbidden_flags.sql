begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: jobs flagged for two gateways and one without flags, oldest first
select id as a_id from pgrun.add_job('sms.send', run_at => now() - interval '4 minutes', flags => array['gateway-a']) \gset
select id as ab_id from pgrun.add_job('sms.send', queue_name => 'q', run_at => now() - interval '3 minutes',
  flags => array['gateway-b', 'gateway-a']) \gset
select id as b_id from pgrun.add_job('sms.send', run_at => now() - interval '2 minutes', flags => array['gateway-b']) \gset
select id as plain_id from pgrun.add_job('sms.send', run_at => now() - interval '1 minute') \gset

-- TEST: a job carrying any forbidden flag is skipped
select is((pgrun.get_job(pgrun_tests.worker(1), forbidden_flags => array['gateway-a'])).id, :b_id::bigint,
  'jobs flagged gateway-a (queued or not) are skipped; the gateway-b job is claimed');
select is((pgrun.get_job(pgrun_tests.worker(1), forbidden_flags => array['gateway-a', 'gateway-b'])).id,
  :plain_id::bigint, 'with both forbidden only the job without flags is claimed');
select ok((pgrun.get_job(pgrun_tests.worker(1), forbidden_flags => array['gateway-b', 'gateway-a'])).id is null,
  'then nothing is left for that worker');

-- TEST: null or empty forbidden_flags forbid nothing
select is((pgrun.get_job(pgrun_tests.worker(1), forbidden_flags => '{}')).id, :a_id::bigint,
  'an empty array forbids nothing');
select is((pgrun.get_job(pgrun_tests.worker(1), forbidden_flags => null)).id, :ab_id::bigint,
  'null forbids nothing');
select is((select count(*)::integer from pgrun.jobs where locked_at is null), 0, 'every job is claimed');

select finish();
rollback;
