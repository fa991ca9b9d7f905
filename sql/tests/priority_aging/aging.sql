begin;
select plan(38);
select pgrun_tests.reset();

-- TEST: off by default: nothing is aged, however long jobs wait
select results_eq('select step, max_steps from pgrun.priority_aging()',
  $$values (null::interval, null::integer)$$, 'aging is off by default');
select id as old_id from pgrun.add_job('t', priority => 5, run_at => now() - interval '1 day') \gset
select is_empty($$select from pgrun.maintain(now => now() + interval '1 day') where task <> 'dead job rows'$$,
  'maintain ages nothing while aging is off');
select results_eq(format('select priority::integer, base_priority::integer from pgrun.jobs where id = %s', :old_id),
  $$values (5::integer, null::integer)$$, 'a job waiting a day keeps its priority');
select pgrun_tests.reset();

-- TEST: bad inputs are refused, each with its reason
select throws_ok($$select pgrun.set_priority_aging(interval '0')$$, '22023',
  'step must be at least 1 second (got 00:00:00)', 'a zero step is refused');
select throws_ok($$select pgrun.set_priority_aging(interval '-5 seconds')$$, '22023',
  'step must be at least 1 second (got -00:00:05)', 'a negative step is refused');
select throws_ok($$select pgrun.set_priority_aging(interval '500 milliseconds')$$, '22023',
  'step must be at least 1 second (got 00:00:00.5)', 'a step under a second is refused');
select throws_ok($$select pgrun.set_priority_aging(interval '10 seconds', 0)$$, '22023',
  'max_steps must be at least 1 (got 0); null: no limit', 'max_steps 0 is refused');
select throws_ok($$select pgrun.set_priority_aging(interval '10 seconds', -3)$$, '22023',
  'max_steps must be at least 1 (got -3); null: no limit', 'a negative max_steps is refused');
select throws_ok($$select pgrun.set_priority_aging(null, 3)$$, '22023',
  'max_steps needs a step: set_priority_aging(null) turns aging off', 'max_steps without a step is refused');
select results_eq('select step, max_steps from pgrun.priority_aging()',
  $$values (null::interval, null::integer)$$, 'and a refused call changes nothing');

-- TEST: set, then set again (the second replaces the first), audited
select pgrun.set_priority_aging(interval '1 minute');
select pgrun.set_priority_aging(interval '10 seconds', 3);
select results_eq('select step, max_steps from pgrun.priority_aging()',
  $$values (interval '10 seconds', 3)$$, 'aging is on: a step of 10 s, at most 3 steps');
select is((select count(*)::integer from pgrun.audit_log where action = 'set_priority_aging'), 2,
  'each call is audited');

-- SETUP: as seen 25 s from now (2 whole steps), with a 10 s step and at most 3 steps:
--   a: priority 5, available since now: ages 2
--   b: priority 5, available since 10 min ago: ages 3 (max_steps), not 62
--   c: priority 5, available since 20 s from now: 5 s of wait, no step
--   r: priority 5, running (claimed now)
--   s: priority 5, scheduled in 1 hour
--   q1, q2: queue q, priority 4 since now and priority 5 since 10 min ago; q1 is listed
select pgrun_tests.register(1);
select id as r_id from pgrun.add_job('r', priority => 5) \gset
select is((select id from pgrun_tests.claim(1, 1, array['r'])), :r_id::bigint, 'setup: r runs');
select id as a_id from pgrun.add_job('ta', priority => 5) \gset
select id as b_id from pgrun.add_job('t', priority => 5, run_at => now() - interval '10 minutes') \gset
select id as c_id from pgrun.add_job('t', priority => 5, run_at => now() + interval '20 seconds') \gset
update pgrun._private_jobs set state = 'available' where id = :c_id;  -- as the next claim would promote it
select id as s_id from pgrun.add_job('t', priority => 5, run_at => now() + interval '1 hour') \gset
select id as q1_id from pgrun.add_job('t', priority => 4, queue_name => 'q') \gset
select id as q2_id from pgrun.add_job('t', priority => 5, queue_name => 'q', run_at => now() - interval '10 minutes') \gset
select results_eq('select queue_name, job_id from pgrun_tests.listed()', format($$values ('q', %s::bigint)$$, :q1_id),
  'setup: q lists q1, the better priority');

-- TEST: a job waiting k steps ages k, at most max_steps; others are left alone
select results_eq($$select task, rows from pgrun.maintain(now => now() + interval '25 seconds') where task <> 'dead job rows'$$,
  $$values ('priorities aged', 4)$$, 'maintain ages four jobs');
select results_eq(format('select id, priority::integer, base_priority::integer from pgrun.jobs where id in (%s, %s, %s, %s, %s, %s, %s) order by id',
                         :r_id, :a_id, :b_id, :c_id, :s_id, :q1_id, :q2_id),
  format($$values (%s::bigint, 5::integer, null::integer), (%s, 3, 5), (%s, 2, 5), (%s, 5, null),
                  (%s, 5, null), (%s, 2, 4), (%s, 2, 5)$$,
         :r_id, :a_id, :b_id, :c_id, :s_id, :q1_id, :q2_id),
  'a ages 2 steps, b 3 (max_steps), q1 2 and q2 3; c (no whole step), r (running) and s (scheduled) do not');
select results_eq($$select priority::integer from pgrun._private_queue_heads where queue_name = 'q' order by priority limit 1$$,
  $$values (2::integer)$$, 'the listing of q follows: its best row has the aged priority');
select results_eq('select queue_name, job_id from pgrun_tests.listed()', format($$values ('q', %s::bigint)$$, :q2_id),
  'and names q2, which now goes first (priority 2, the older run_at)');
select is_empty($$select from pgrun.maintain(now => now() + interval '29 seconds') where task <> 'dead job rows'$$,
  'within the same step a second pass changes nothing');
select alike((select reason from pgrun.explain_job(:a_id)), '%; priority 3, aged from 5',
  'explain_job says the job was aged and from what');

-- TEST: the next step ages again, from the job's own priority (it never compounds)
select results_eq($$select task, rows from pgrun.maintain(now => now() + interval '35 seconds') where task <> 'dead job rows'$$,
  $$values ('priorities aged', 3)$$, 'a step later, a, c and q1 age ...');
select results_eq(format('select id, priority::integer, base_priority::integer from pgrun.jobs where id in (%s, %s, %s, %s) order by id',
                         :a_id, :b_id, :c_id, :q1_id),
  format($$values (%s::bigint, 2::integer, 5::integer), (%s, 2, 5), (%s, 4, 5), (%s, 1, 4)$$,
         :a_id, :b_id, :c_id, :q1_id),
  '... a to 5 - 3, c to 5 - 1 (from its own run_at, 15 s of wait), q1 to 4 - 3; b and q2 stay at max_steps');

-- TEST: a retry gives the job its own priority back; it ages again from its new run_at
select id as a_claimed from pgrun_tests.claim(1, 1, array['ta']) \gset
select is(:a_claimed::bigint, :a_id::bigint, 'setup: a runs');
select results_eq(format($$select job_id, outcome from pgrun.fail_attempts(%L, array[%s]::bigint[],
                             array[pgrun_tests.lease(%s)], array['boom'])$$,
                         pgrun_tests.worker(1), :a_id, :a_id),
  format($$values (%s::bigint, 'retryable')$$, :a_id), 'setup: a fails and waits for its retry');
select results_eq(format('select priority::integer, base_priority::integer from pgrun.jobs where id = %s', :a_id),
  $$values (5::integer, null::integer)$$, 'a retried job has its own priority again');

-- TEST: reschedule_jobs gives the job its own priority back too (or the one it is given)
select results_eq(format('select priority::integer, base_priority::integer from pgrun.reschedule_jobs(array[%s, %s]::bigint[], run_at => now())',
                         :b_id, :c_id),
  $$values (5::integer, null::integer), (5, null)$$, 'rescheduled jobs have their own priority again');
select results_eq(format('select priority::integer, base_priority::integer from pgrun.reschedule_jobs(array[%s]::bigint[], priority => 7)', :q2_id),
  $$values (7::integer, null::integer)$$, 'a priority given to reschedule_jobs replaces the aged one');

-- TEST: with no max_steps, a job ages down to -32768 and no further
select pgrun.set_priority_aging(interval '1 second');
select id as low_id from pgrun.add_job('t', priority => -32760, run_at => now() - interval '1 minute') \gset
select pgrun.maintain(now => now());
select results_eq(format('select priority::integer, base_priority::integer from pgrun.jobs where id = %s', :low_id),
  $$values (-32768::integer, -32760::integer)$$, 'no max_steps: a job ages down to the lowest priority');
select id as ancient_id from pgrun.add_job('t', priority => 0, run_at => '1900-01-01') \gset
select id as forever_id from pgrun.add_job('t', priority => 0, run_at => '-infinity') \gset
select lives_ok('select pgrun.maintain()', 'a wait of 126 years in steps of a second, or from -infinity, ages');
select results_eq(format('select priority::integer from pgrun.jobs where id in (%s, %s) order by id',
                         :ancient_id, :forever_id),
  $$values (-32768), (-32768)$$, 'both to the lowest priority, no overflow');

-- TEST: batches of max_rows jobs over windows of ids, across a gap of a million ids, in one call
select pgrun_tests.reset();
select pgrun.set_priority_aging(interval '10 seconds');
select pgrun.add_job('w', priority => 5, run_at => now() - interval '1 minute') from generate_series(1, 3);
select setval(pg_get_serial_sequence('pgrun._private_jobs', 'id'), (select max(id) + 1000000 from pgrun._private_jobs));
select pgrun.add_job('w', priority => 5, run_at => now() - interval '1 minute') from generate_series(1, 3);
select results_eq($$select rows from pgrun.maintain(2) where task = 'priorities aged'$$, $$values (6)$$,
  'with max_rows 2, one call ages all six jobs, on both sides of the gap');
select is((select value from pgrun._private_settings where name = 'priority_aging_after'), null,
  'and, having seen the last job, leaves no place to go on from');

-- TEST: a pass goes on from where the last one stopped, then starts again from the first
update pgrun._private_jobs set priority = 5, base_priority = null;
insert into pgrun._private_settings (name, value)
select 'priority_aging_after', (select id from pgrun.jobs order by id offset 2 limit 1)::text;
select results_eq($$select rows from pgrun.maintain() where task = 'priorities aged'$$, $$values (3)$$,
  'a pass that stopped after the third job goes on with the three after it');
select results_eq($$select rows from pgrun.maintain() where task = 'priorities aged'$$, $$values (3)$$,
  'the next pass starts again from the first');
select is_empty('select from pgrun.jobs where base_priority is null', 'all six are aged');

-- TEST: turning aging off gives the available jobs their own priority back
select pgrun.set_priority_aging(null);
select results_eq('select step, max_steps from pgrun.priority_aging()',
  $$values (null::interval, null::integer)$$, 'aging is off again');
select is_empty('select from pgrun.jobs where base_priority is not null and state = ''available''',
  'no available job keeps an aged priority');
select is((select count(*)::integer from pgrun.jobs where priority = 5), 6, 'the six have their own priority 5 again');

select finish();
rollback;
