begin;
select plan(9);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: five completed jobs kept 1 to 5 minutes, a failed job kept until
-- removed, a job still waiting
select pgrun.set_retention(interval '1 minute', null, null);
select id as first_id from pgrun.add_job('t') \gset
select pgrun.add_job('t') from generate_series(2, 5);
select pgrun.complete_attempts(pgrun_tests.worker(1), array_agg(c.id), array_agg(c.lease)) from pgrun_tests.claim(1, 5) as c;
update pgrun._private_jobs set keep_until = now() + (id - :first_id + 1) * interval '1 minute' where state = 'completed';
select id as failed_id from pgrun.add_job('t', max_attempts => 1) \gset
select pgrun.fail_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array['boom']) from pgrun_tests.claim(1) as c;
select pgrun.add_job('t', run_at => now() + interval '1 day');
select results_eq($$select state, count(*)::integer from pgrun.jobs group by state order by state$$,
  $$values ('completed', 5), ('failed', 1), ('scheduled', 1)$$, 'setup: five completed, one failed, one waiting');

-- TEST: nothing is pruned before its keep_until
select is(pgrun.prune_jobs(100, now()), 0, 'at now nothing has expired');

-- TEST: expired jobs go in bounded batches, the longest expired first
select is(pgrun.prune_jobs(2, now() + interval '10 minutes'), 2, 'a batch of 2 removes 2');
select is((select min(id) from pgrun.jobs where state = 'completed'), :first_id + 2::bigint,
  'the two that expired first are gone');
select is(pgrun.prune_jobs(2, now() + interval '10 minutes'), 2, 'the next batch removes 2 more');
select is(pgrun.prune_jobs(2, now() + interval '10 minutes'), 1, 'then the last one');
select is(pgrun.prune_jobs(2, now() + interval '10 minutes'), 0, 'then nothing');

-- TEST: jobs kept until removed, and jobs not final, are never pruned
select is(pgrun.prune_jobs(100, now() + interval '100 years'), 0, 'a century later nothing else goes');
select results_eq($$select state, count(*)::integer from pgrun.jobs group by state order by state$$,
  $$values ('failed', 1), ('scheduled', 1)$$, 'the failed and the waiting job remain');

select finish();
rollback;
