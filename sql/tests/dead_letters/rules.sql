begin;
select plan(13);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: bad rules are refused with a clear error
select throws_ok($$select pgrun.set_dead_letter('dlq', 't', 'q')$$, '22023',
  'a dead letter is set for a task or for a queue (or neither: the default), not both', 'not both scopes');
select throws_ok($$select pgrun.set_dead_letter('t', 't')$$, '22023',
  'task ''t'' cannot be its own dead-letter task', 'a task is not its own dead-letter task');
select throws_ok($$select pgrun.set_dead_letter(null)$$, '22023',
  'dead_letter_task must be 1 to 128 characters (got NULL)', 'a dead-letter task is required');
select throws_ok($$select pgrun.set_dead_letter('dlq', queue_name => '')$$, '22023',
  'task_identifier and queue_name must not be empty (use null for no scope)', 'an empty scope is refused');

-- TEST: the most specific rule wins: task, then queue, then default
select pgrun.set_dead_letter('dlq-default');
select pgrun.set_dead_letter('dlq-queue', queue_name => 'q');
select pgrun.set_dead_letter('dlq-task', task_identifier => 't');
select pgrun.set_dead_letter('dlq-task2', task_identifier => 't');  -- replaces the rule of that scope
select is((select count(*)::integer from pgrun._private_dead_letters), 3, 'one rule per scope');
select pgrun_tests.add_queue('q', 2);
create temporary table failed_by (task text, queue text, job_id bigint);
insert into failed_by select 't', 'q', id from pgrun.add_job('t', queue_name => 'q', max_attempts => 1);
insert into failed_by select 'u', 'q', id from pgrun.add_job('u', queue_name => 'q', max_attempts => 1);
insert into failed_by select 'u', null, id from pgrun.add_job('u', max_attempts => 1);
select is((select count(*)::integer from pgrun_tests.claim(1, 3)), 3, 'setup: three jobs run');
select is((select array_agg(f.outcome order by f.job_id) from pgrun.fail_attempts(pgrun_tests.worker(1),
             (select array_agg(job_id order by job_id) from failed_by),
             (select array_agg(pgrun_tests.lease(job_id) order by job_id) from failed_by),
             array['x', 'y', 'z']) as f),
  array['failed', 'failed', 'failed'], 'all three fail on their last attempt');
select results_eq(
  $$select l.task_identifier from failed_by as b join pgrun.jobs as j on j.id = b.job_id
    join pgrun.jobs as l on l.id = j.dead_letter_job_id order by b.job_id$$,
  $$values ('dlq-task2'), ('dlq-queue'), ('dlq-default')$$,
  'task t''s rule, then queue q''s, then the default');

-- TEST: remove_dead_letter says whether it removed a rule; the next general one applies again
select is(pgrun.remove_dead_letter('t'), true, 'the task''s rule is removed');
select is(pgrun.remove_dead_letter('t'), false, 'removing it again removes nothing');
select is(pgrun.remove_dead_letter(queue_name => 'q'), true, 'the queue''s rule is removed');
select is(pgrun.remove_dead_letter(), true, 'the default rule is removed');
select is_empty('select from pgrun._private_dead_letters', 'no rule is left');

select finish();
rollback;
