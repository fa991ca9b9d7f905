begin;
select plan(10);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: jobs of t due in 1 minute (one queued) and a retry due in 2 minutes;
-- a job of another task due in 1 minute
select id as s_id from pgrun.add_job('t', run_at => now() + interval '1 minute') \gset
select id as sq_id from pgrun.add_job('t', queue_name => 'q', run_at => now() + interval '1 minute', priority => 1) \gset
select id as r_id from pgrun.add_job('t', run_at => now() + interval '2 minutes') \gset
select pgrun.reschedule_jobs(array[:r_id]::bigint[], attempts => 1);
select id as o_id from pgrun.add_job('other', run_at => now() + interval '1 minute') \gset
select results_eq(
  $$select state, count(*)::integer from pgrun.jobs group by state order by state$$,
  $$values ('retryable', 1), ('scheduled', 3)$$,
  'setup: three scheduled jobs and one retryable');

-- TEST: before their run_at nothing becomes available
select is_empty(format($$select from pgrun.claim_jobs(%L, 5, array['t'], now => now() + interval '15 seconds')
                        where id is not null$$, pgrun_tests.worker(1)),
  'a claim before the run_at gets nothing');
select is((select count(*)::integer from pgrun.jobs where state = 'available'), 0, 'and promotes nothing');

-- TEST: at its run_at a scheduled job becomes available inside the claim
select pgrun.record_heartbeat(pgrun_tests.worker(1), now => now() + interval '60 seconds');
select is((select array_agg(id) from pgrun_tests.claim(1, 1, array['t'], now() + interval '60 seconds')),
  array[:s_id]::bigint[], 'the claim at run_at promotes the due jobs and takes the best');
select is(pgrun_tests.state(:sq_id), 'available', 'the other due job of t, in queue q, waits as available');
select is((select job_id from pgrun_tests.listed() where queue_name = 'q'), :sq_id::bigint,
  'and its queue is listed for the next claim');
select is(pgrun_tests.state(:o_id), 'scheduled', 'a claim promotes only its own tasks'' jobs');

-- TEST: a retryable job becomes available when its retry is due
select pgrun.record_heartbeat(pgrun_tests.worker(1), now => now() + interval '2 minutes');
select results_eq(
  $$select id from pgrun_tests.claim(1, 5, array['t'], now() + interval '2 minutes') order by id$$,
  format('values (%s::bigint), (%s)', :sq_id, :r_id),
  'the queued job and the due retry are claimed');

-- TEST: maintain promotes every task's due jobs
select results_eq($$select task, rows from pgrun.maintain(now => now() + interval '2 minutes') where task = 'promoted'$$,
  $$values ('promoted', 1)$$, 'maintain promotes the other task''s job');
select is(pgrun_tests.state(:o_id), 'available', 'which is now available');

select finish();
rollback;
