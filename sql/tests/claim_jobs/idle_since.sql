begin;
select plan(7);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: a registered worker is not idle until a claim comes back short
select is((select idle_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)), null,
  'a fresh worker is not idle');
select pgrun.claim_jobs(pgrun_tests.worker(1), 3);
select is((select idle_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)), now(),
  'a claim that found nothing marks it idle since the claim''s now');

-- TEST: further short claims keep the first moment and write nothing
create temporary table before on commit drop as
select n_tup_upd from pg_stat_xact_user_tables where relid = 'pgrun._private_workers'::regclass;
select pgrun.claim_jobs(pgrun_tests.worker(1), 3, now => now() + interval '5 seconds');
select is((select idle_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)), now(),
  'idle_since stays at the start of the idle stretch');
select is((select n_tup_upd from pg_stat_xact_user_tables where relid = 'pgrun._private_workers'::regclass),
  (select n_tup_upd from before), 'the worker row was not updated by that claim');

-- TEST: a claim that gets all it asked for clears the mark
select pgrun.add_job('t');
select pgrun.add_job('t');
select is((select count(*)::integer from pgrun_tests.claim(1, 2)), 2, 'setup: a full claim of two jobs');
select is((select idle_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)), null,
  'the worker is busy again');

-- TEST: a claim that got some but fewer than asked marks it idle again
select pgrun.add_job('t');
select pgrun.claim_jobs(pgrun_tests.worker(1), 2);
select is((select idle_since from pgrun._private_workers where worker_id = pgrun_tests.worker(1)), now(),
  'a short claim with one job marks it idle');

select finish();
rollback;
