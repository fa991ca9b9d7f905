begin;
select plan(4);
create extension if not exists dblink;

-- Two steps of one workflow ending at once, in two real sessions: they take
-- turns on the workflow's row (the second is busy, and does not wait), so
-- the workflow sees both ends, once each.
select * from pgrun_tests.race_sessions('w1', 'w2') \gset
select pgrun_tests.run('w1', 'select pgrun_tests.register(2)');
select pgrun_tests.run('w1', $$select pgrun.start_workflow('pair', '[{"name": "b", "task": "b"}, {"name": "c", "task": "c"}]')$$);
select max(id) as wf from pgrun._private_workflows \gset
select pgrun_tests.run('w1', $$select from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array['b'])$$);
select pgrun_tests.run('w2', $$select from pgrun.claim_jobs(pgrun_tests.worker(2), 1, array['c'])$$);
select id as b from pgrun._private_jobs where task_identifier = 'b' \gset
select id as c from pgrun._private_jobs where task_identifier = 'c' \gset

-- TEST: b's completion holds the workflow's row; c's is busy, at once
select dblink_exec('w1', 'begin');
select pgrun_tests.run('w1', format($$select from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
                                    pgrun_tests.worker(1), :b, pgrun_tests.lease(:b)));
select ok(pgrun_tests.returns_promptly('w2',
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(2), :c, pgrun_tests.lease(:c))), 'c''s completion returns at once');
select results_eq($$select * from dblink_get_result('w2') as t(job_id bigint, outcome text)$$,
  format($$values (%s::bigint, 'busy')$$, :c), 'busy: the workflow''s row is held');
select * from dblink_get_result('w2') as t(job_id bigint, outcome text);
select dblink_exec('w1', 'commit');

-- TEST: sent again, it completes, and the workflow has both
select set_eq(format($$select job_id, outcome from dblink('w2', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(2), :c, pgrun_tests.lease(:c))),
  format($$values (%s::bigint, 'completed')$$, :c), 'sent again, it completes');
select results_eq(format('select state, steps_pending from pgrun.list_workflows(workflow_id => %s)', :wf),
  $$values ('completed', 0)$$, 'the workflow completed, both steps counted');

select pgrun_tests.run('w1', 'select pgrun_tests.reset()');
select dblink_disconnect('w1');
select dblink_disconnect('w2');
select finish();
rollback;
