begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: worker 1 runs two jobs (one in a queue), worker 2 runs one
select id as a_id from pgrun.add_job('t', queue_name => 'qa', run_at => now() - interval '3 minutes') \gset
select id as b_id from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select is((select count(*)::integer from pgrun.get_jobs(pgrun_tests.worker(1), max_jobs => 2)), 2,
  'setup: worker 1 claims two jobs');
select id as other_id from pgrun.add_job('t', queue_name => 'qo') \gset
select is((pgrun.get_job(pgrun_tests.worker(2))).id, :other_id::bigint, 'setup: worker 2 claims one job');

-- TEST: fail_held_jobs fails each held job with its own message and skips the rest
select results_eq(
  format($$select id, last_error, locked_by from pgrun.fail_held_jobs(%L, array[%s, %s, %s]::bigint[],
           array['error a', 'error b', 'error other']) order by id$$,
         pgrun_tests.worker(1), :a_id, :b_id, :other_id),
  format($$values (%s::bigint, 'error a', null::text), (%s, 'error b', null)$$, :a_id, :b_id),
  'worker 1''s jobs are returned, each with its own error, unlocked');
select results_eq(
  $$select id, errors -> 0 ->> 'error', run_at from pgrun.jobs where last_error is not null order by id$$,
  format($$values (%s::bigint, 'error a', now() + interval '2.718282 seconds'),
                  (%s, 'error b', now() + interval '2.718282 seconds')$$, :a_id, :b_id),
  'each gets its history entry and its retry time');
select results_eq(
  format('select locked_by, last_error from pgrun.jobs where id = %s', :other_id),
  format('values (%L, null::text)', pgrun_tests.worker(2)),
  'worker 2''s job is untouched');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('qa', 0), ('qo', 1)$$,
  'worker 1''s queue runs nothing now; worker 2''s still runs its job');

select finish();
rollback;
