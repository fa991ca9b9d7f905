begin;
select plan(9);
select pgrun_tests.reset();

-- TEST: start_workflow refuses what it cannot run, with clear words
select throws_ok($$select pgrun.start_workflow('', '[{"name": "a", "task": "t"}]')$$, '22023',
  'a workflow name must have 1 to 128 characters', 'an empty name');
select throws_ok($$select pgrun.start_workflow('w', '[]')$$, '22023',
  'steps must be a non-empty JSON array of step objects', 'no steps');
select throws_ok($$select pgrun.start_workflow('w', '[{"name": "a"}]')$$, '22023',
  'steps[1]: a step is an object with a "name" (1 to 128 characters) and a "task" (strings), an optional "depends_on" (an array of step names) and "compensate" (a task); got {"name": "a"}',
  'a step without a task');
select throws_ok($$select pgrun.start_workflow('w', '[{"name": "a", "task": "t"}, {"name": "a", "task": "t"}]')$$, '22023',
  'two steps are named ''a''', 'two steps with one name');
select throws_ok($$select pgrun.start_workflow('w', '[{"name": "a", "task": "t", "depends_on": ["b"]}]')$$, '22023',
  'step ''a'': depends_on names no step ''b''', 'an unknown dependency');
select throws_ok($$select pgrun.start_workflow('w', '[{"name": "a", "task": "t", "depends_on": ["b"]},
                                                     {"name": "b", "task": "t", "depends_on": ["a"]}]')$$, '22023',
  'start_workflow: depends_on makes a cycle: specs 1, 2 wait for one another', 'a cycle');
select is((select count(*) from pgrun._private_workflows), 0::bigint, 'nothing was started');
select throws_ok('select * from pgrun.workflow_steps(424242)', 'P0002', 'no workflow 424242', 'an unknown workflow');
select throws_ok($$select * from pgrun.list_workflows(only_state => 'done')$$, '22023',
  'unknown workflow state ''done''; expected running, completed, failed, compensating or compensated',
  'an unknown state');

select finish();
rollback;
