begin;
select plan(11);
select pgrun_tests.reset();
select pgrun.set_retention(interval '1 day', null, interval '1 day');

-- SETUP: five jobs of two tasks, two queues, keys and payloads; one failed,
-- one completed (kept by retention) with a key, one cancelled
select id as a1 from pgrun.add_job('a', '{"email": "Ada@example.com"}') \gset
select id as a2 from pgrun.add_job('a', '{"email": "bob@example.com"}', queue_name => 'q', job_key => 'k2') \gset
select id as b1 from pgrun.add_job('b', '{"n": 1}', queue_name => 'r', job_key => 'done') \gset
select id as b2 from pgrun.add_job('b', '{"n": 2}') \gset
select id as b3 from pgrun.add_job('b', '{"n": 3}', job_key => 'gone') \gset
select pgrun.permanently_fail_jobs(array[:b2]::bigint[]);
select pgrun.complete_jobs(array[:b1]::bigint[]);
select pgrun.cancel_jobs(array[:b3]::bigint[]);

-- TEST: no filter: every job, newest first
select results_eq($$select id from pgrun.list_jobs()$$,
  format('values (%s::bigint), (%s), (%s), (%s), (%s)', :b3, :b2, :b1, :a2, :a1), 'newest first');

-- TEST: each filter alone
select results_eq($$select id from pgrun.list_jobs('failed')$$, format('values (%s::bigint)', :b2), 'by state');
select results_eq($$select id from pgrun.list_jobs(state => 'available')$$,
  format('values (%s::bigint), (%s)', :a2, :a1), 'by state: available');
select results_eq($$select id from pgrun.list_jobs(task_identifier => 'a')$$,
  format('values (%s::bigint), (%s)', :a2, :a1), 'by task');
select results_eq($$select id from pgrun.list_jobs(queue_name => 'r')$$, format('values (%s::bigint)', :b1), 'by queue');
select results_eq($$select id from pgrun.list_jobs(job_key => 'k2')$$, format('values (%s::bigint)', :a2),
  'by key: a live job');
select results_eq($$select id from pgrun.list_jobs(job_key => 'done')$$, format('values (%s::bigint)', :b1),
  'by key: a completed job retention keeps');
select results_eq($$select id from pgrun.list_jobs(payload_contains => 'ada@EXAMPLE')$$,
  format('values (%s::bigint)', :a1), 'by payload text, whatever the case');

-- TEST: filters combine
select results_eq($$select id from pgrun.list_jobs('cancelled', 'b', job_key => 'gone')$$,
  format('values (%s::bigint)', :b3), 'state, task and key');
select is_empty($$select from pgrun.list_jobs('failed', 'a')$$, 'nothing matches both');

-- TEST: rows are the jobs table's, as the admin functions return
select is((select state from pgrun.list_jobs(job_key => 'gone')), 'cancelled', 'the row carries its state');

select finish();
rollback;
