begin;
select plan(6);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: a, then b and c side by side; each has a compensation
select pgrun.start_workflow('fan', $$[
  {"name": "a", "task": "a", "compensate": "undo.a"},
  {"name": "b", "task": "b", "depends_on": ["a"], "compensate": "undo.b"},
  {"name": "c", "task": "c", "depends_on": ["a"], "compensate": "undo.c"}]$$) as wf \gset
select pgrun_tests.finish_next('a');
select id as c_job, lease as c_lease from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array['c']) where id is not null \gset

-- TEST: b fails for good while c runs: compensation waits for c
select is(pgrun_tests.finish_next('b', null, 'broken', true), 'failed', 'b fails for good');
select results_eq(format('select state, reason from pgrun.list_workflows(workflow_id => %s)', :wf),
  $$values ('compensating', 'step b failed')$$, 'the workflow is compensating');
select is((select count(*) from pgrun.jobs where task_identifier like 'undo.%'), 0::bigint,
  'no compensation runs while c is still running');

-- TEST: c completes: then c, b and a are compensated, one at a time, by descending position
select from pgrun.complete_attempts(pgrun_tests.worker(1), array[:c_job]::bigint[], array[:c_lease]::bigint[]);
create temporary table seen (n serial, waiting text[]) on commit drop;
insert into seen (waiting) select array(select task_identifier from pgrun.jobs where task_identifier like 'undo.%');
select pgrun_tests.finish_next('undo.c');
insert into seen (waiting) select array(select task_identifier from pgrun.jobs where task_identifier like 'undo.%');
select pgrun_tests.finish_next('undo.b');
insert into seen (waiting) select array(select task_identifier from pgrun.jobs where task_identifier like 'undo.%');
select is(pgrun_tests.finish_next('undo.a'), 'completed', 'the last compensation completes');
select is((select array_agg(array_to_string(waiting, ',') order by n) from seen), array['undo.c', 'undo.b', 'undo.a'],
  'one compensation at a time: c''s, then b''s (the failed step), then a''s');
select results_eq(format('select state from pgrun.list_workflows(workflow_id => %s)', :wf), $$values ('compensated')$$,
  'the workflow ends compensated');

select finish();
rollback;
