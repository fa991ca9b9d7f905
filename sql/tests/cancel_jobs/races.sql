begin;
select plan(12);
create extension if not exists dblink;

-- A cancel racing an outcome ends in exactly one of the two, whichever
-- committed first: both lock the job's row. Real sessions: 'worker' writes
-- outcomes, 'admin' cancels; this session watches.
select pgrun_tests.connect('worker') as worker_pid \gset
select pgrun_tests.connect('admin') as admin_pid \gset
select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select pgrun_tests.run('worker', 'select pgrun_tests.register(1)');
select pgrun_tests.run('worker', $$select pgrun.set_retention(interval '1 day', null, null)$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '2 minutes')$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '1 minute')$$);
select pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)');
select id as a_id, lease as a_lease from pgrun._private_jobs where state = 'running' \gset

-- TEST: the completion commits first: the cancel, which waited for the row, finds it completed
select dblink_exec('worker', 'begin');
select is(pgrun_tests.run('worker', format($$select from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
                                           pgrun_tests.worker(1), :a_id, :a_lease)), 1::bigint,
  'the worker completes the job (not committed yet)');
select dblink_send_query('admin', format($$select count(*) from pgrun.cancel_jobs(array[%s]::bigint[], 'late')$$, :a_id));
select ok(pgrun_tests.waits_for_lock(:admin_pid), 'the cancel waits for the completion''s row');
select dblink_exec('worker', 'commit');
select ok(pgrun_tests.finishes('admin'), 'the cancel returns once the completion commits');
select is((select n from dblink_get_result('admin') as t(n bigint)), 0::bigint, 'it cancelled nothing');
select * from dblink_get_result('admin') as t(n bigint);
select results_eq(format('select state, cancel_requested_at from pgrun.jobs where id = %s', :a_id),
  $$values ('completed', null::timestamptz)$$, 'the job is completed, and only that');

-- TEST: the cancel commits first: the completion, which found the row held, is busy, then cancelled
select pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)');
select id as b_id, lease as b_lease from pgrun._private_jobs where state = 'running' \gset
select dblink_exec('admin', 'begin');
select is(pgrun_tests.run('admin', format($$select from pgrun.cancel_jobs(array[%s]::bigint[], 'stop')$$, :b_id)),
  1::bigint, 'the admin cancels the running job (not committed yet)');
select set_eq(format($$select job_id, outcome from dblink('worker', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(1), :b_id, :b_lease)),
  format($$values (%s::bigint, 'busy')$$, :b_id), 'a completion meanwhile is busy: it does not wait, nor win');
select dblink_exec('admin', 'commit');
select set_eq(format($$select job_id, outcome from dblink('worker', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(1), :b_id, :b_lease)),
  format($$values (%s::bigint, 'cancelled')$$, :b_id), 'sent again, the completion is answered cancelled');
select results_eq(format('select state, cancel_reason, result from pgrun.jobs where id = %s', :b_id),
  $$values ('cancelled', 'stop', null::jsonb)$$, 'the job is cancelled, and only that');
select results_eq($$select running from pgrun._private_job_queues where queue_name = 'q'$$, $$values (0)$$,
  'the queue counts nothing running');

-- TEST: a cancel racing a claim: the claim skips the row the cancel holds; once committed, it is cancelled
select pgrun_tests.run('worker', $$select pgrun.add_job('t', run_at => now() - interval '1 minute')$$);
select id as c_id from pgrun._private_jobs where state = 'available' \gset
select dblink_exec('admin', 'begin');
select pgrun_tests.run('admin', format($$select from pgrun.cancel_jobs(array[%s]::bigint[])$$, :c_id));
select is(pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)'), 0::bigint,
  'the claim does not take the job being cancelled');
select dblink_exec('admin', 'commit');
select is(pgrun_tests.state(:c_id), 'cancelled', 'it is cancelled, never started');

select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select dblink_disconnect('worker');
select dblink_disconnect('admin');
select finish();
rollback;
