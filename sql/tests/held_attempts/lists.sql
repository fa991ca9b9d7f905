begin;
select plan(4);
select pgrun_tests.reset();
select pgrun_tests.register(n) from generate_series(1, 2) as n;

-- SETUP: worker 1 runs two jobs, worker 2 one; one job waits
select pgrun.add_job('t') from generate_series(1, 3);
select pgrun.add_job('t', run_at => now() + interval '1 hour');
select pgrun_tests.claim(1, 2);
select pgrun_tests.claim(2, 1);

-- TEST: held_attempts lists the attempts a worker holds, with their leases, by id
select results_eq(format('select * from pgrun.held_attempts(%L)', pgrun_tests.worker(1)),
  format($$select id, lease from pgrun._private_jobs where locked_by = %L order by id$$, pgrun_tests.worker(1)),
  'worker 1''s two jobs and their lease');
select is((select count(*)::integer from pgrun.held_attempts(pgrun_tests.worker(2))), 1, 'worker 2 holds one');
select is_empty(format('select from pgrun.held_attempts(%L)', pgrun_tests.worker(3)), 'an unknown worker holds nothing');

-- TEST: what it lists can be given back in one call
select is((select count(*)::integer from pgrun.return_attempts(pgrun_tests.worker(1),
             (select array_agg(job_id) from pgrun.held_attempts(pgrun_tests.worker(1))),
             (select array_agg(lease) from pgrun.held_attempts(pgrun_tests.worker(1)))) where outcome = 'returned'),
  2, 'both are returned with the leases it gave');

select finish();
rollback;
