begin;
select plan(10);
create extension if not exists dblink;

-- Claim vs completion of one limited queue, in real sessions. A completion
-- of a queued job locks the queue's row with the job (the one-statement path
-- of complete_attempts, _end_plain_completions); a claim locks the rows
-- of the queues it visits until it commits. The completion must not wait for
-- the claim, nor lower a count the claim is raising: it answers busy, and
-- goes through once sent again. This session only watches.
select pgrun_tests.four_sessions();  -- c1..c4, workers 1..4, claims and stalls

-- SETUP (committed): tenant-1 may run 2; worker 2 runs one of its six jobs
select pgrun_tests.run('c1', $$select pgrun.set_limit('tenant-*', max_running => 2)$$);
select pgrun_tests.run('c1', $$select pgrun.add_job('t', queue_name => 'tenant-1', run_at => now() - (g || ' minutes')::interval)
                               from generate_series(1, 6) as g$$);
select t.id as w2_id, t.lease as w2_lease
from dblink('c2', 'select c.id, c.lease from pgrun_tests.claim(2, 1) as c') as t(id bigint, lease bigint) \gset

-- TEST: worker 1's claim fills tenant-1 and holds its row, uncommitted
select dblink_exec('c1', 'begin');
select is(pgrun_tests.run('c1', 'select from pgrun_tests.claim(1, 5)'), 1::bigint,
  'worker 1 claims the one job tenant-1 has room for');

-- TEST: worker 2's completion meanwhile is busy at once, and changes nothing
select ok(pgrun_tests.returns_promptly('c2', format(
    $$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
    pgrun_tests.worker(2), :w2_id, :w2_lease)),
  'the completion does not wait for the claim');
select set_eq($$select * from dblink_get_result('c2') as t(job_id bigint, outcome text)$$,
  format($$values (%s::bigint, 'busy')$$, :w2_id), 'it answers busy');
select * from dblink_get_result('c2') as t(job_id bigint, outcome text);
select is((select t.state from dblink('c3', format('select state from pgrun._private_jobs where id = %s', :w2_id))
           as t(state text)), 'running', 'the job still runs');

-- TEST: once the claim commits, the completion sent again goes through
select dblink_exec('c1', 'commit');
select set_eq(
  format($$select * from dblink('c2', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(2), :w2_id, :w2_lease)),
  format($$values (%s::bigint, 'completed')$$, :w2_id), 'the completion sent again goes through');
select is((select t.running from dblink('c3', $$select running from pgrun._private_job_queues where queue_name = 'tenant-1'$$)
           as t(running integer)), 1, 'tenant-1 counts the one job worker 1 runs');
select is((select t.n from dblink('c3', $$select count(*)::integer from pgrun_tests.listed() where queue_name = 'tenant-1'$$)
           as t(n integer)), 1, 'and is listed again: it has room and four jobs');

-- TEST: four claimers round after round (tenant-1 with 16 jobs, tenant-2 with
-- 8), each completing after all commit: never more than two of a tenant
-- claimed at once, the counters exact
select pgrun_tests.run('c3', 'select pgrun_tests.reset()');
select pgrun_tests.run('c3', format('select pgrun_tests.register(%s)', n)) from generate_series(1, 4) as n;
select pgrun_tests.run('c3', $$select pgrun.add_job('t', queue_name => case when g <= 16 then 'tenant-1' else 'tenant-2' end)
                               from generate_series(1, 24) as g$$);
select pgrun_tests.four_claims_round(r, 3) from generate_series(1, 18) as r;
select ok((select max(n) <= 2 from (select count(*) as n from claims group by round, queue_name) as x),
  'no tenant had more than two claimed in any round');
select results_eq($$select count(*)::integer, count(distinct id)::integer from claims$$, $$values (24, 24)$$,
  'every job was claimed, once, over the rounds');
select is((select t.ok from dblink('c3', $$select pgrun_tests.counters_exact() and not exists (select from pgrun._private_jobs)$$)
           as t(ok boolean)), true, 'every job completed and each tenant counts nothing running');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('c3', 'select pgrun_tests.reset()');
select dblink_disconnect('c' || n) from generate_series(1, 4) as n;

select finish();
rollback;
