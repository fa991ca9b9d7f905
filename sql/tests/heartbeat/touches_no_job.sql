begin;
select plan(5);
select pgrun_tests.reset();

-- Fault 2: a heartbeat waited on a job's row lock inside the transaction that
-- held its beat. Fault 13: hot tables' updates were never HOT. A beat now
-- writes its worker's row and nothing else, as a HOT update.

-- SETUP: worker 1 runs three jobs, one of them in a named queue
select pgrun_tests.register(1);
select pgrun.add_job('t', queue_name => 'q');
select pgrun.add_job('t') from generate_series(1, 2);
select is((select count(*)::integer from pgrun_tests.claim(1, 3)), 3, 'setup: worker 1 runs three jobs');
create temporary table before on commit drop as
select relid, n_tup_upd, n_tup_hot_upd from pg_stat_xact_user_tables where schemaname = 'pgrun';

-- TEST: five beats update the worker's row, HOT, and not one job or queue row
select pgrun.heartbeat(pgrun_tests.worker(1), now => now() + n * interval '1 second') from generate_series(1, 5) as n;
select is((select s.n_tup_upd - b.n_tup_upd from pg_stat_xact_user_tables as s join before as b using (relid)
           where s.relid = 'pgrun._private_jobs'::regclass), 0::bigint,
  'no job row was updated');
select is((select s.n_tup_upd - b.n_tup_upd from pg_stat_xact_user_tables as s join before as b using (relid)
           where s.relid = 'pgrun._private_job_queues'::regclass), 0::bigint,
  'no queue row was updated');
select is((select s.n_tup_upd - b.n_tup_upd from pg_stat_xact_user_tables as s join before as b using (relid)
           where s.relid = 'pgrun._private_workers'::regclass), 5::bigint,
  'the worker''s row was updated once per beat');
select is((select s.n_tup_hot_upd - b.n_tup_hot_upd from pg_stat_xact_user_tables as s join before as b using (relid)
           where s.relid = 'pgrun._private_workers'::regclass), 5::bigint,
  'and every one of those updates was HOT');

select finish();
rollback;
