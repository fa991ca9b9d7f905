begin;
select plan(4);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: 20 queues whose rate (1 per hour) is spent, each with a job listed
-- ahead (an older run_at), and one open queue with a younger job
select pgrun.set_limit('spent:*', max_running => 5, max_per_period => 1, period => '1 hour');
select pgrun.add_job('t', queue_name => 'spent:' || n, run_at => now() - interval '2 hours')
from generate_series(1, 20) as n;
select pgrun.add_job('t', queue_name => 'spent:' || n, run_at => now() - interval '2 hours')
from generate_series(1, 20) as n;
select is((select count(*)::integer from pgrun_tests.claim(1, 40, array['t'])), 20,
  'setup: one start of each spent queue uses its hour');
select id as open_id from pgrun.add_job('t', queue_name => 'open', run_at => now() - interval '1 hour') \gset

-- TEST: a claim of one job steps over the twenty closed queues listed ahead
select is((select array_agg(id) from pgrun_tests.claim(1, 1, array['t'])), array[:open_id]::bigint[],
  'the open queue''s job is claimed past twenty queues closed by their rate');
select is_empty($$select * from pgrun_tests.claim(1, 1, array['t'])$$, 'then nothing (the worker is idle now)');
select is((select look_again from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array['t']) where id is null), false,
  'and nothing to look again for: the closed queues are not runnable');

select finish();
rollback;
