begin;
select plan(3);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- Fault 13: hot-path updates were never HOT. A queue's running counter is not
-- indexed and its table keeps room in its pages, so claims and ends of
-- attempts update queue rows in place.

-- SETUP: ten jobs of queue q
select pgrun.add_job('t', queue_name => 'q') from generate_series(1, 10);
create temporary table before on commit drop as
select n_tup_upd, n_tup_hot_upd from pg_stat_xact_user_tables where relid = 'pgrun._private_job_queues'::regclass;

-- TEST: ten claims and ten completions: twenty counter updates, all HOT
do $$
begin
  for i in 1..10 loop
    perform pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease]) from pgrun_tests.claim(1) as c;
  end loop;
end;
$$;
select is((select count(*)::integer from pgrun.jobs), 0, 'setup: every job was claimed and completed');
select is((select s.n_tup_upd - b.n_tup_upd from pg_stat_xact_user_tables as s, before as b
           where s.relid = 'pgrun._private_job_queues'::regclass), 20::bigint,
  'the queue row was updated once per claim and once per completion');
select is((select s.n_tup_hot_upd - b.n_tup_hot_upd from pg_stat_xact_user_tables as s, before as b
           where s.relid = 'pgrun._private_job_queues'::regclass), 20::bigint,
  'every one of those updates was HOT');

select finish();
rollback;
