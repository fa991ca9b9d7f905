begin;
select plan(4);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: queue mail: one running, two available (one waiting since 5 minutes
-- ago), one scheduled; queue reports, paused, empty; an unqueued job
select pgrun.add_job('t', queue_name => 'mail', run_at => now() - interval '10 minutes');
select pgrun.add_job('t', queue_name => 'mail', run_at => now() - interval '5 minutes');
select pgrun.add_job('t', queue_name => 'mail');
select pgrun.add_job('t', queue_name => 'mail', run_at => now() + interval '1 hour');
select pgrun.add_job('t');
select pgrun_tests.claim(1, 1, array['t']);
select pgrun.pause_queue('reports');

-- TEST: one row per queue: settings, the running counter, waiting jobs by state
select results_eq($$select queue_name, max_running, running, paused, available, scheduled, retryable, failed
                    from pgrun.list_queues()$$,
  $$values ('mail', 1, 1, false, 2::bigint, 1::bigint, 0::bigint, 0::bigint),
           ('reports', 1, 0, true, 0, 0, 0, 0)$$,
  'mail runs one and has two waiting; reports is paused and empty');
select is((select waiting_since from pgrun.list_queues() where queue_name = 'mail'), now() - interval '5 minutes',
  'the oldest available job''s run_at');
select is((select waiting_since from pgrun.list_queues() where queue_name = 'reports'), null,
  'nothing waits in reports');

-- TEST: a read role may list queues
create role pgrun_test_queue_reader;
select pgrun.grant_read('pgrun_test_queue_reader');
set local role pgrun_test_queue_reader;
select is((select count(*) from pgrun.list_queues()), 2::bigint, 'read may call list_queues');
reset role;

select finish();
rollback;
