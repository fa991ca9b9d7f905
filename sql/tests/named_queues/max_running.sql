begin;
select plan(11);
select pgrun_tests.reset();
select pgrun_tests.register(n) from generate_series(1, 3) as n;

-- SETUP: a serial queue (max_running 1, Graphile's) and a queue that runs 3
-- at once, five jobs each, oldest first in each queue
insert into pgrun._private_job_queues (queue_name, max_running) values ('one', 1), ('three', 3);
select pgrun.add_job('t', queue_name => q, run_at => now() - n * interval '1 minute')
from (values ('one'), ('three')) as v(q), generate_series(5, 1, -1) as n;

-- TEST: a claim takes as many of a queue's jobs as it has room for, oldest first
select results_eq(
  $$select j.queue_name, count(*)::integer from pgrun_tests.claim(1, 10) as c join pgrun.jobs as j on j.id = c.id
    group by j.queue_name order by j.queue_name$$,
  $$values ('one', 1), ('three', 3)$$,
  'one job of the serial queue, three of the other');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('one', 1), ('three', 3)$$,
  'the running counters say so');
select results_eq(
  $$select queue_name, min(run_at) = max(run_at) - interval '2 minutes' from pgrun.jobs
    where state = 'running' and queue_name = 'three' group by queue_name$$,
  $$values ('three', true)$$,
  'the three oldest jobs of queue three run');
select is_empty($$select from pgrun_tests.claim(2, 10)$$, 'a second worker finds both queues full');

-- TEST: an ending attempt gives its queue room for exactly one more
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease])
from (select id, lease from pgrun._private_jobs where queue_name = 'three' and state = 'running' order by id limit 1) as c;
select is((select count(*)::integer from pgrun_tests.claim(2, 10)), 1, 'after one completion one more job of three runs');
select pgrun.fail_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array['boom'])
from (select id, lease from pgrun._private_jobs where queue_name = 'three' and state = 'running'
        and locked_by = pgrun_tests.worker(1) order by id limit 1) as c;
select pgrun.return_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease])
from (select id, lease from pgrun._private_jobs where queue_name = 'one' and state = 'running') as c;
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('one', 0), ('three', 2)$$,
  'a failure and a give-back each count one down');
select ok(pgrun_tests.counters_exact(), 'every counter equals the running jobs of its queue');

-- TEST: a claim asking for fewer jobs than the room takes only what it asked
select is((select count(*)::integer from pgrun_tests.claim(3, 1, array['t'])), 1, 'max_jobs 1 takes one job');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('one', 1), ('three', 2)$$,
  'the serial queue''s head was the best job: it runs');
select is((select count(*)::integer from pgrun_tests.claim(3, 10)), 1, 'then the one free place of three is taken');
select ok(pgrun_tests.counters_exact(), 'the counters are still exact');

select finish();
rollback;
