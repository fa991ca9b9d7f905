begin;
select plan(12);
create extension if not exists dblink;

-- Fault 3: outcome writes waited on row locks held by application
-- transactions, so one locked row stalled every outcome of the worker. Now a
-- row another transaction holds comes back 'busy' at once, to be sent again.
-- A holder session locks rows, the worker's session writes outcomes; this
-- session only watches.
select pgrun_tests.connect('worker') as worker_pid \gset
select pgrun_tests.connect('holder');

-- SETUP (committed): worker 1 runs four jobs, one in queue q, one in queue r
select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select pgrun_tests.run('worker', 'select pgrun_tests.register(1)');
select pgrun_tests.run('worker', $$select pgrun.add_job('t', run_at => now() - interval '4 minutes')$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '3 minutes')$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', queue_name => 'r', run_at => now() - interval '2 minutes')$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', run_at => now() - interval '1 minute')$$);
select pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 4)');
select id as a_id, lease as a_lease from pgrun._private_jobs where queue_name is null order by id limit 1 \gset
select id as q_id, lease as q_lease from pgrun._private_jobs where queue_name = 'q' \gset
select id as r_id, lease as r_lease from pgrun._private_jobs where queue_name = 'r' \gset
select id as d_id, lease as d_lease from pgrun._private_jobs where queue_name is null order by id desc limit 1 \gset

-- TEST: a job row held by another transaction (an application re-keying it)
-- comes back busy without waiting; the rest of the batch completes
select dblink_exec('holder', 'begin');
select pgrun_tests.run('holder', format('select from pgrun._private_jobs where id = %s for update', :a_id));
-- ...and queue r's row held too (another outcome of r in flight)
select pgrun_tests.run('holder', $$select from pgrun._private_job_queues where queue_name = 'r' for no key update$$);
select ok(pgrun_tests.returns_promptly('worker', format(
    $$select job_id, outcome from pgrun.complete_attempts(%L, array[%s, %s, %s]::bigint[], array[%s, %s, %s]::bigint[])$$,
    pgrun_tests.worker(1), :a_id, :q_id, :r_id, :a_lease, :q_lease, :r_lease)),
  'complete_attempts returns at once');
select set_eq($$select * from dblink_get_result('worker') as t(job_id bigint, outcome text)$$,
  format($$values (%s::bigint, 'busy'), (%s, 'completed'), (%s, 'busy')$$, :a_id, :q_id, :r_id),
  'the held job and the job of the held queue are busy; the other one completed');
select * from dblink_get_result('worker') as t(job_id bigint, outcome text);
select results_eq(format('select id, state from pgrun.jobs where id in (%s, %s) order by id', :a_id, :r_id),
  format($$values (%s::bigint, 'running'), (%s, 'running')$$, :a_id, :r_id),
  'the busy ones still run, untouched');

-- TEST: fail_attempts and return_attempts answer busy the same way
select ok(pgrun_tests.returns_promptly('worker', format(
    $$select * from pgrun.fail_attempts(%L, array[%s]::bigint[], array[%s]::bigint[], array['boom'])$$,
    pgrun_tests.worker(1), :a_id, :a_lease)),
  'fail_attempts returns at once');
select set_eq($$select job_id, outcome from dblink_get_result('worker')
                  as t(job_id bigint, outcome text, run_at timestamptz, attempts smallint, max_attempts smallint)$$,
  format($$values (%s::bigint, 'busy')$$, :a_id), 'a failure of the held job is busy');
select * from dblink_get_result('worker') as t(job_id bigint, outcome text, run_at timestamptz, attempts smallint, max_attempts smallint);
select ok(pgrun_tests.returns_promptly('worker', format(
    $$select job_id, outcome from pgrun.return_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
    pgrun_tests.worker(1), :r_id, :r_lease)),
  'return_attempts returns at once');
select set_eq($$select * from dblink_get_result('worker') as t(job_id bigint, outcome text)$$,
  format($$values (%s::bigint, 'busy')$$, :r_id), 'a give-back of the job of the held queue is busy');
select * from dblink_get_result('worker') as t(job_id bigint, outcome text);

-- TEST: sent again once the holder is gone, they go through
select dblink_exec('holder', 'commit');
select set_eq(
  format($$select job_id, outcome from dblink('worker', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s, %s, %s]::bigint[], array[%s, %s, %s]::bigint[])$$,
           pgrun_tests.worker(1), :a_id, :r_id, :d_id, :a_lease, :r_lease, :d_lease)),
  format($$values (%s::bigint, 'completed'), (%s, 'completed'), (%s, 'completed')$$, :a_id, :r_id, :d_id),
  'the retried batch completes');
select is_empty($$select from pgrun.jobs$$, 'every job is done');
select results_eq($$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('q', 0), ('r', 0)$$, 'both queues count nothing running');

-- TEST: the blocking function of Graphile's API still waits (it returns the job as it was)
select pgrun_tests.run('worker', $$select pgrun.add_job('t')$$);
select pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)');
select id as g_id from pgrun._private_jobs \gset
select dblink_exec('holder', 'begin');
select pgrun_tests.run('holder', format('select from pgrun._private_jobs where id = %s for update', :g_id));
select dblink_send_query('worker', format('select pgrun.complete_job(%L, %s)', pgrun_tests.worker(1), :g_id));
select ok(pgrun_tests.waits_for_lock(:worker_pid), 'complete_job waits for the held row, as Graphile Worker''s does');
select dblink_exec('holder', 'commit');
select ok(pgrun_tests.finishes('worker'), 'and completes once it is free');
select * from dblink_get_result('worker') as t(x text);
select * from dblink_get_result('worker') as t(x text);

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select dblink_disconnect('worker');
select dblink_disconnect('holder');

select finish();
rollback;
