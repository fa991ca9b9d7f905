begin;
select plan(7);
select pgrun_tests.reset();
select pgrun_tests.register(1);

create function pg_temp.finish_next(task text, error text default null) returns text
language plpgsql as $$
declare
  v_id bigint;
  v_lease bigint;
begin
  select c.id, c.lease into v_id, v_lease
  from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array[finish_next.task]) as c where c.id is not null;
  if v_id is null then
    return 'nothing to claim';
  elsif finish_next.error is null then
    return (select c.outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[v_id], array[v_lease]) as c);
  end if;
  return (select f.outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[v_id], array[v_lease],
                                                   array[finish_next.error], array[true]) as f);
end;
$$;

select pgrun.start_workflow('two', $$[
  {"name": "one", "task": "one", "compensate": "undo.one"},
  {"name": "two", "task": "two", "depends_on": ["one"]}]$$) as wf \gset
select pg_temp.finish_next('one');
select pg_temp.finish_next('two', 'broken');

-- TEST: a compensation failing for good leaves the workflow failed, saying which
select is(pg_temp.finish_next('undo.one', 'still broken'), 'failed', 'the compensation fails for good');
select results_eq(format('select state, reason from pgrun.list_workflows() where id = %s', :wf),
  format($$values ('failed', 'step two failed; the compensation of step one (job %s) failed: retry_jobs runs it again')$$,
         (select id from pgrun.jobs where task_identifier = 'undo.one')),
  'the workflow is failed, naming the compensation');
select results_eq(format($$select name, state, compensation_job_state from pgrun.workflow_steps(%s)$$, :wf),
  $$values ('one', 'compensation failed', 'failed'), ('two', 'failed', null)$$, 'its steps say so');

-- TEST: retried, the compensation completes and the workflow ends compensated
select from pgrun.retry_jobs(array(select id from pgrun.jobs where task_identifier = 'undo.one'));
select is(pg_temp.finish_next('undo.one'), 'completed', 'the compensation runs again and completes');
select results_eq(format('select state from pgrun.list_workflows() where id = %s', :wf), $$values ('compensated')$$,
  'the workflow ends compensated');

-- TEST: a step failing with nothing to compensate ends compensated at once
select pgrun.start_workflow('bare', '[{"name": "only", "task": "one"}]') as bare \gset
select pg_temp.finish_next('one', 'no');
select results_eq(format('select state, reason from pgrun.list_workflows() where id = %s', :bare),
  $$values ('compensated', 'step only failed')$$, 'nothing to undo: compensated');
select results_eq($$select state from pgrun.list_workflows(only_state => 'compensated') order by id$$,
  $$values ('compensated'), ('compensated')$$, 'list_workflows filters by state');

select finish();
rollback;
