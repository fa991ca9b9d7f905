begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: worker 1, alive, claimed a queued job 5 hours ago and a short one 10
-- minutes ago, and has beaten ever since
select pgrun_tests.register(1, now() - interval '5 hours');
select id as long_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '6 hours') \gset
select id as short_id from pgrun.add_job('t', run_at => now() - interval '6 hours') \gset
select id as next_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '6 hours') \gset
select is((select id from pgrun.claim_jobs(pgrun_tests.worker(1), 1, now => now() - interval '5 hours')
           where id is not null), :long_id::bigint, 'setup: worker 1 claimed the long job 5 hours ago');
select is((select id from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array['t'], now => now() - interval '5 hours')
           where id is not null), :short_id::bigint, 'setup: and the short one');
update pgrun._private_jobs set locked_at = now() - interval '10 minutes' where id = :short_id;
select pgrun.heartbeat(pgrun_tests.worker(1));

-- TEST: a beat renews the lease (the worker's row) and leaves each attempt's start alone
select results_eq(
  format('select id, locked_at from pgrun.jobs where id in (%s, %s) order by id', :long_id, :short_id),
  format($$values (%s::bigint, now() - interval '5 hours'), (%s, now() - interval '10 minutes')$$, :long_id, :short_id),
  'locked_at stays the start of each attempt');

-- TEST: the 4-hour expiry of Graphile-style claims never takes a live worker's long job
select is_empty(
  format($$select from pgrun.get_jobs(%L, max_jobs => 10)$$, 'unregistered-worker'),
  'an unregistered worker''s get_jobs finds nothing: the long job is not expired, its queue stays full');
select is_empty($$select from pgrun.maintain() where task = 'expired locks released'$$,
  'maintain releases no expired lock');
select results_eq(
  format('select state, locked_by, attempts from pgrun.jobs where id = %s', :long_id),
  format($$values ('running', %L, 1::smallint)$$, pgrun_tests.worker(1)),
  'the long job still runs as worker 1''s first attempt');

select finish();
rollback;
