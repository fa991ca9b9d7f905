begin;
select plan(5);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: flagged jobs of two tasks, in and out of a named queue
select id as a_id from pgrun.add_job('sms.send', run_at => now() - interval '4 minutes', flags => array['gateway-a']) \gset
select id as ab_id from pgrun.add_job('sms.bulk', queue_name => 'q', run_at => now() - interval '3 minutes',
  flags => array['gateway-b', 'gateway-a']) \gset
select id as b_id from pgrun.add_job('sms.bulk', run_at => now() - interval '2 minutes', flags => array['gateway-b']) \gset
select id as plain_id from pgrun.add_job('sms.send', run_at => now() - interval '1 minute') \gset

-- TEST: a job carrying any forbidden flag is skipped, for one task or several
select results_eq(
  format($$select id from pgrun.claim_jobs(%L, 5, array['sms.send', 'sms.bulk'], array['gateway-a'])
           where id is not null$$, pgrun_tests.worker(1)),
  format('values (%s::bigint), (%s)', :b_id, :plain_id),
  'jobs flagged gateway-a, queued or not, are skipped by a worker of both tasks');
select is(pgrun_tests.state(:a_id), 'available', 'the skipped unqueued job is left available');
select is_empty(
  format($$select from pgrun.claim_jobs(%L, 5, array['sms.send'], array['gateway-a']) where id is not null$$,
         pgrun_tests.worker(1)),
  'a worker of one task skips it too');

-- TEST: an empty array forbids nothing
select results_eq(
  format($$select id from pgrun.claim_jobs(%L, 5, null, '{}') where id is not null$$, pgrun_tests.worker(1)),
  format('values (%s::bigint), (%s)', :a_id, :ab_id),
  'with no forbidden flag the flagged jobs are claimed');
select is((select count(*)::integer from pgrun.jobs where state <> 'running'), 0, 'every job is claimed');

select finish();
rollback;
