begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: one job in a named queue
select id as job_id from pgrun.add_job('emails.send', '{"to": "a@example.com"}', 'mail') \gset

-- TEST: claiming adds one attempt and locks the job to the worker at `now`
create temporary table claimed on commit drop as
select * from pgrun.get_job(pgrun_tests.worker(1), now => now() + interval '1 minute');

select is((select id from claimed), :job_id::bigint, 'the job is returned');
select results_eq(
  format('select attempts, locked_at, locked_by from pgrun.jobs where id = %s', :job_id),
  format($$values (1::smallint, now() + interval '1 minute', %L)$$, pgrun_tests.worker(1)),
  'attempts + 1, locked_at = now, locked_by = the worker');
select results_eq(
  $$select id, attempts, locked_at, locked_by, payload::text from claimed$$,
  format('select id, attempts, locked_at, locked_by, payload::text from pgrun.jobs where id = %s', :job_id),
  'the returned row is the job as stored after the claim');

-- TEST: claiming a job of a named queue counts it as running in its queue
select is((select running from pgrun._private_job_queues where queue_name = 'mail'), 1,
  'the queue runs one job');

-- TEST: a claimed job is not claimed again
select ok((pgrun.get_job(pgrun_tests.worker(2), now => now() + interval '1 minute')).id is null,
  'another worker gets nothing');
select ok((pgrun.get_job(pgrun_tests.worker(1), now => now() + interval '1 minute')).id is null,
  'nor does the same worker');

select finish();
rollback;
