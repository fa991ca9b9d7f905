begin;
select plan(10);
select pgrun_tests.reset();

-- TEST: bad rules are refused
select throws_ok($$select pgrun.set_retention(interval '1 day', null, null, 'task', 'queue')$$,
  '22023', 'retention is set for a task or for a queue, not both', 'a rule for both a task and a queue is refused');
select throws_ok($$select pgrun.set_retention(interval '-1 day', null, null)$$,
  '22023', 'retention intervals must not be negative', 'a negative interval for completed jobs is refused');
select throws_ok($$select pgrun.set_retention(null, interval '-1 second', null, 'task')$$,
  '22023', 'retention intervals must not be negative', 'a negative interval for failed jobs is refused');
select throws_ok($$select pgrun.set_retention(null, null, interval '-1 second', queue_name => 'q')$$,
  '22023', 'retention intervals must not be negative', 'a negative interval for cancelled jobs is refused');
select is_empty($$select from pgrun._private_retention$$, 'nothing was recorded');

-- TEST: one rule per scope; setting it again replaces it
select pgrun.set_retention(interval '1 day', interval '7 days', null);
select pgrun.set_retention(interval '2 days', null, interval '1 hour');
select pgrun.set_retention(interval '5 minutes', null, null, task_identifier => 'emails.send');
select pgrun.set_retention(interval '1 hour', interval '0', interval '0', queue_name => 'mail');
select results_eq(
  $$select task_identifier, queue_name, completed, failed, cancelled from pgrun._private_retention
    order by task_identifier nulls last, queue_name nulls last$$,
  $$values ('emails.send', null::text, interval '5 minutes', null::interval, null::interval),
           (null, 'mail', interval '1 hour', interval '0', interval '0'),
           (null, null, interval '2 days', null, interval '1 hour')$$,
  'the task, queue and default rules, the default replaced by the second call');

-- TEST: remove_retention forgets one rule and says whether there was one
select is(pgrun.remove_retention(task_identifier => 'emails.send'), true, 'the task rule is removed');
select is(pgrun.remove_retention(task_identifier => 'emails.send'), false, 'removing it again finds nothing');
select is(pgrun.remove_retention(), true, 'the default rule is removed');
select results_eq($$select queue_name from pgrun._private_retention$$, $$values ('mail')$$,
  'only the queue rule is left');

select finish();
rollback;
