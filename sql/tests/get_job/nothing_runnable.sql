begin;
select plan(5);
select pgrun_tests.reset();

-- TEST: with no jobs at all get_job returns a null row
select ok(pgrun.get_job(pgrun_tests.worker(1)) is null, 'get_job returns null for an empty table');
select is((select count(*)::integer from pgrun.get_job(pgrun_tests.worker(1))), 1,
  'it is one row of nulls, as Graphile Worker''s get_job returns');

-- TEST: with only jobs that cannot run yet get_job returns null and changes nothing
select pgrun.add_job('t', run_at => now() + interval '1 minute');
select pgrun.add_job('t', queue_name => 'q', run_at => now() + interval '1 minute');
select ok(pgrun.get_job(pgrun_tests.worker(1)) is null, 'get_job returns null when nothing is due');
select is((select count(*)::integer from pgrun.jobs where attempts > 0 or locked_at is not null), 0,
  'no job was touched');
select is((select count(*)::integer from pgrun._private_job_queues where running > 0), 0,
  'no queue counts a running job');

select finish();
rollback;
