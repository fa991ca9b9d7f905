begin;
select plan(12);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: a job in each state a removal may meet
select pgrun.set_retention(interval '1 day', null, null);
select id as available_id from pgrun.add_job('t') \gset
select id as scheduled_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select id as running_id from pgrun.add_job('r') \gset
select is((select count(*)::integer from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array['r']) where id is not null),
  1, 'setup: one job runs');
select id as done_id from pgrun.add_job('d') \gset
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease])
from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array['d']) as c where c.id is not null;
select id as failed_id from pgrun.add_job('t') \gset
select pgrun.permanently_fail_jobs(array[:failed_id]::bigint[]);
select id as cancelled_id from pgrun.add_job('t') \gset
select pgrun.cancel_jobs(array[:cancelled_id]::bigint[]);
select results_eq(
  format('select state from pgrun.jobs where id in (%s, %s, %s) order by id', :done_id, :failed_id, :cancelled_id),
  $$values ('completed'), ('failed'), ('cancelled')$$, 'setup: kept final jobs');

-- TEST: every job that is not running leaves, final ones included; a running one stays
select results_eq(
  format('select id, state from pgrun.remove_jobs(array[%s, %s, %s, %s, %s, %s, 999999]::bigint[]) order by id',
         :available_id, :scheduled_id, :running_id, :done_id, :failed_id, :cancelled_id),
  format($$values (%s::bigint, 'available'), (%s, 'scheduled'), (%s, 'completed'), (%s, 'failed'), (%s, 'cancelled')$$,
         :available_id, :scheduled_id, :done_id, :failed_id, :cancelled_id),
  'the removed jobs are returned as they were; an unknown id is not an error');
select results_eq('select id, state from pgrun.jobs',
  format($$values (%s::bigint, 'running')$$, :running_id), 'only the running job is left');

-- TEST: the audit log names what was asked and what left
select is((select arguments -> 'removed' from pgrun.audit_log where action = 'remove_jobs'),
  jsonb_build_array(:available_id, :scheduled_id, :done_id, :failed_id, :cancelled_id),
  'the audit log records the removed ids');
select is((select cardinality(targets) from pgrun.audit_log where action = 'remove_jobs'), 7,
  'and every id asked for');

-- TEST: a removed parent that had not ended cancels the jobs blocked on it, naming it
select id as parent_id from pgrun.add_job('p') \gset
select id as child_id from pgrun.add_job('c', depends_on => array[:parent_id]::bigint[]) \gset
select is(pgrun_tests.state(:child_id), 'blocked', 'setup: the child waits for its parent');
select is((select count(*)::integer from pgrun.remove_jobs(array[:parent_id]::bigint[])), 1, 'the parent is removed');
select is(pgrun_tests.state(:child_id), 'cancelled', 'its blocked child is cancelled');
select is((select cancel_reason from pgrun.jobs where id = :child_id),
  format('job %s, which it depends on, was cancelled', :parent_id), 'with a reason naming the parent');

-- TEST: bad input
select throws_ok('select pgrun.remove_jobs(null)', '22004', 'job_ids must not be null', 'null job_ids are refused');
select is((select count(*)::integer from pgrun.remove_jobs('{}')), 0, 'an empty list removes nothing');

select finish();
rollback;
