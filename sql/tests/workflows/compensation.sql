begin;
select plan(14);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: the order workflow
select pgrun.start_workflow('order', $$[
  {"name": "reserve", "task": "inventory.reserve", "payload": {"sku": "A1"}, "compensate": "inventory.release"},
  {"name": "charge", "task": "payments.charge", "depends_on": ["reserve"], "compensate": "payments.refund",
   "compensate_max_attempts": 1},
  {"name": "notify", "task": "emails.notify", "depends_on": ["charge"]}]$$) as wf \gset

-- TEST: it runs in order and completes
select results_eq(format('select name, position, state, job_state from pgrun.workflow_steps(%s)', :wf),
  $$values ('reserve', 1, 'pending', 'available'), ('charge', 2, 'pending', 'blocked'), ('notify', 3, 'pending', 'blocked')$$,
  'three steps, the first available, the others blocked');
select is(pgrun_tests.finish_next('inventory.reserve', '{"reservation": 7}'), 'completed', 'reserve completes');
select is(pgrun_tests.finish_next('payments.charge', '{"charge": 9}'), 'completed', 'charge completes');
select is((select state from pgrun.list_workflows() where id = :wf), 'running', 'the workflow is running');
select is(pgrun_tests.finish_next('emails.notify'), 'completed', 'notify completes');
select results_eq(format('select state, steps, steps_pending from pgrun.list_workflows() where id = %s', :wf),
  $$values ('completed', 3, 0)$$, 'the workflow is completed');

-- TEST: charge fails for good: refund, then release, and the workflow ends compensated
select pgrun.start_workflow('order', $$[
  {"name": "reserve", "task": "inventory.reserve", "payload": {"sku": "B2"}, "compensate": "inventory.release"},
  {"name": "charge", "task": "payments.charge", "depends_on": ["reserve"], "compensate": "payments.refund"},
  {"name": "notify", "task": "emails.notify", "depends_on": ["charge"]}]$$) as wf2 \gset
select pgrun_tests.finish_next('inventory.reserve', '{"reservation": 8}');
select is(pgrun_tests.finish_next('payments.charge', null, 'card declined', true), 'failed', 'charge fails for good');
select results_eq(format('select state, reason from pgrun.list_workflows() where id = %s', :wf2),
  $$values ('compensating', 'step charge failed')$$, 'the workflow is compensating: charge failed');
select is(pgrun_tests.finish_next('inventory.release'), 'nothing to claim', 'release waits for refund');
select results_eq(format($$select payload from pgrun.jobs where task_identifier = 'payments.refund'$$),
  format($$values (jsonb_build_object('workflow_id', %s, 'step', 'charge', 'payload', '{}'::jsonb, 'result', null,
                                       'outcome', 'failed'))$$, :wf2),
  'the refund job carries the workflow, the step and its outcome');
select is(pgrun_tests.finish_next('payments.refund'), 'completed', 'refund runs first');
select is((select payload -> 'result' from pgrun.jobs where task_identifier = 'inventory.release'), '{"reservation": 8}'::jsonb,
  'then release, with what reserve returned');
select is(pgrun_tests.finish_next('inventory.release'), 'completed', 'release completes');
select results_eq(format($$select state from pgrun.list_workflows() where id = %s$$, :wf2),
  $$values ('compensated')$$, 'the workflow ends compensated');

select finish();
rollback;
