begin;
select plan(7);
select pgrun_tests.reset();
select pgrun_tests.register(1);

select pgrun.start_workflow('two', $$[
  {"name": "one", "task": "one", "compensate": "undo.one"},
  {"name": "two", "task": "two", "depends_on": ["one"]}]$$) as wf \gset
select pgrun_tests.finish_next('one');
select pgrun_tests.finish_next('two', null, 'broken', true);

-- TEST: a compensation failing for good leaves the workflow failed, saying which
select is(pgrun_tests.finish_next('undo.one', null, 'still broken', true), 'failed', 'the compensation fails for good');
select results_eq(format('select state, reason from pgrun.list_workflows() where id = %s', :wf),
  format($$values ('failed', 'step two failed; the compensation of step one (job %s) failed: retry_jobs runs it again')$$,
         (select id from pgrun.jobs where task_identifier = 'undo.one')),
  'the workflow is failed, naming the compensation');
select results_eq(format($$select name, state, compensation_job_state from pgrun.workflow_steps(%s)$$, :wf),
  $$values ('one', 'compensation failed', 'failed'), ('two', 'failed', null)$$, 'its steps say so');

-- TEST: retried, the compensation completes and the workflow ends compensated
select from pgrun.retry_jobs(array(select id from pgrun.jobs where task_identifier = 'undo.one'));
select is(pgrun_tests.finish_next('undo.one'), 'completed', 'the compensation runs again and completes');
select results_eq(format('select state from pgrun.list_workflows() where id = %s', :wf), $$values ('compensated')$$,
  'the workflow ends compensated');

-- TEST: a step failing with nothing to compensate ends compensated at once
select pgrun.start_workflow('bare', '[{"name": "only", "task": "one"}]') as bare \gset
select pgrun_tests.finish_next('one', null, 'no', true);
select results_eq(format('select state, reason from pgrun.list_workflows() where id = %s', :bare),
  $$values ('compensated', 'step only failed')$$, 'nothing to undo: compensated');
select results_eq($$select state from pgrun.list_workflows(only_state => 'compensated') order by id$$,
  $$values ('compensated'), ('compensated')$$, 'list_workflows filters by state');

select finish();
rollback;
