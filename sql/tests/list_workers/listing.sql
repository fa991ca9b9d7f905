begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: worker 1 live, holding two jobs; worker 2 beat long ago; worker 3 reaped
select pgrun_tests.register(1);
select pgrun_tests.register(2, now() - interval '1 hour');
select pgrun_tests.register(3, now() - interval '2 hours');
update pgrun._private_workers set reaped_at = now(), reaped_by = pgrun_tests.worker(1)
where worker_id = pgrun_tests.worker(3);
select pgrun.add_job('t') from generate_series(1, 3);
select array_agg(id order by id) as held from pgrun_tests.claim(1, 2) \gset

-- TEST: every worker, oldest first, with its lease and what it holds
select results_eq($$select worker_id, live, reaped_by, running_job_ids from pgrun.list_workers()$$,
  format($$values (%L, false, %L, '{}'::bigint[]), (%L, false, null, '{}'), (%L, true, null, %L::bigint[])$$,
         pgrun_tests.worker(3), pgrun_tests.worker(1), pgrun_tests.worker(2), pgrun_tests.worker(1), :'held'),
  'reaped, silent and live workers; the live one holds two jobs');
select is((select heartbeat_interval from pgrun.list_workers() where worker_id = pgrun_tests.worker(1)),
  interval '5 seconds', 'its heartbeat interval');
select is((select live from pgrun.list_workers(now() + interval '1 minute') where worker_id = pgrun_tests.worker(1)),
  false, 'a minute without a beat: no longer live');

-- TEST: bad input; a read role may call it
select throws_ok($$select * from pgrun.list_workers(null)$$, '22004', 'now must not be null', 'null now');
create role pgrun_test_worker_reader;
select pgrun.grant_read('pgrun_test_worker_reader');
set local role pgrun_test_worker_reader;
select is((select count(*) from pgrun.list_workers()), 3::bigint, 'read may call list_workers');
reset role;

select finish();
rollback;
