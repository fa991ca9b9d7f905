begin;
select plan(7);
select pgrun_tests.reset();

-- SETUP: jobs whose claim order is fixed by priority, then run_at, then id,
-- added in an order that matches none of those alone
select id as late_id from pgrun.add_job('t', run_at => now() - interval '1 minute') \gset
select id as queued_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '90 seconds') \gset
select id as first_tie_id from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select id as urgent_id from pgrun.add_job('t', priority => -1) \gset
select id as second_tie_id from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select id as lazy_id from pgrun.add_job('t', priority => 1, run_at => now() - interval '1 hour') \gset

-- TEST: lower priority first; then earlier run_at; then lower id; named queues take part in the same order
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :urgent_id::bigint, 'the lowest priority number comes first');
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :first_tie_id::bigint, 'then the earliest run_at, lower id of a tie');
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :second_tie_id::bigint, 'then the other job of the tie');
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :queued_id::bigint, 'then the queued job by its run_at');
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :late_id::bigint, 'then the latest run_at of priority 0');
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :lazy_id::bigint, 'a higher priority number comes last, however old');
select ok((pgrun.get_job(pgrun_tests.worker(1))).id is null, 'then nothing is left');

select finish();
rollback;
