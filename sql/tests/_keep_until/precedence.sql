begin;
select plan(10);
select pgrun_tests.reset();

-- TEST: without any rule completed jobs go at once and failed and cancelled jobs stay
select is(pgrun._keep_until('t', null, 'completed', now()), now(), 'completed: removed at once');
select is(pgrun._keep_until('t', null, 'failed', now()), null, 'failed: kept until removed');
select is(pgrun._keep_until('t', null, 'cancelled', now()), null, 'cancelled: kept until removed');

-- TEST: the most specific rule wins: task, then queue, then the default
select pgrun.set_retention(interval '1 day', interval '7 days', interval '2 days');
select pgrun.set_retention(interval '1 hour', interval '0', null, queue_name => 'mail');
select pgrun.set_retention(interval '5 minutes', null, interval '1 minute', task_identifier => 'emails.send');
select is(pgrun._keep_until('reports', null, 'completed', now()), now() + interval '1 day',
  'a job of no rule''s task or queue follows the default');
select is(pgrun._keep_until('reports', 'mail', 'completed', now()), now() + interval '1 hour',
  'a job of queue mail follows the queue''s rule');
select is(pgrun._keep_until('emails.send', 'mail', 'completed', now()), now() + interval '5 minutes',
  'a job of task emails.send follows the task''s rule, even in queue mail');
select is(pgrun._keep_until('reports', 'mail', 'failed', now()), now(),
  'an interval of 0 removes at once');

-- TEST: the winning rule's null keeps until removed, whatever a more general rule says
select is(pgrun._keep_until('emails.send', 'mail', 'failed', now()), null,
  'the task rule keeps failed jobs although the queue and default rules would not');

-- TEST: it applies when jobs finish
select pgrun_tests.register(1);
select id as job_id from pgrun.add_job('reports', queue_name => 'mail') \gset
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease]) from pgrun_tests.claim(1) as c;
select results_eq(format('select state, keep_until from pgrun.jobs where id = %s', :job_id),
  $$values ('completed', now() + interval '1 hour')$$,
  'a job of queue mail completes and is kept for an hour');
select id as admin_id from pgrun.add_job('emails.send') \gset
select pgrun.permanently_fail_jobs(array[:admin_id]::bigint[]);
select results_eq(format('select state, keep_until from pgrun.jobs where id = %s', :admin_id),
  $$values ('failed', null::timestamptz)$$,
  'an admin''s failure follows the rules too');

select finish();
rollback;
