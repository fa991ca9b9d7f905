begin;
select plan(24);
select pgrun_tests.reset();

-- SETUP: one role of each kind
create role pgrun_test_enqueue;
create role pgrun_test_read;
create role pgrun_test_worker;
create role pgrun_test_admin;
select pgrun.grant_enqueue('pgrun_test_enqueue');
select pgrun.grant_read('pgrun_test_read');
select pgrun.grant_worker('pgrun_test_worker');
select pgrun.grant_admin('pgrun_test_admin');

-- TEST: the grants are recorded, so that functions added by upgrades reach them
select results_eq($$select role_name::text collate "default", kind from pgrun._private_grants order by kind$$,
  $$values ('pgrun_test_admin', 'admin'), ('pgrun_test_enqueue', 'enqueue'), ('pgrun_test_read', 'read'),
           ('pgrun_test_worker', 'worker')$$,
  'one row per grant');

-- TEST: enqueue: add_job and add_jobs only
select ok(has_function_privilege('pgrun_test_enqueue', 'pgrun.add_job(text, json, text, timestamptz, integer, text, integer, text[], text, interval, jsonb, bigint[], text[])', 'execute'),
  'enqueue may execute add_job');
select ok(not has_function_privilege('pgrun_test_enqueue', 'pgrun.get_result(bigint)', 'execute'), 'but not get_result');
select ok(not has_table_privilege('pgrun_test_enqueue', 'pgrun.jobs', 'select'), 'nor read the jobs view');

-- TEST: read: the jobs view and get_result
select ok(has_table_privilege('pgrun_test_read', 'pgrun.jobs', 'select'), 'read may read the jobs view');
select ok(not has_table_privilege('pgrun_test_read', 'pgrun._private_jobs', 'select'), 'not the table behind it');
select ok(not has_function_privilege('pgrun_test_read', 'pgrun.add_job(text, json, text, timestamptz, integer, text, integer, text[], text, interval, jsonb, bigint[], text[])', 'execute'),
  'nor add jobs');
set local role pgrun_test_read;
select lives_ok($$select * from pgrun.get_result(1)$$, 'get_result works for it');
reset role;

-- TEST: worker: what a runner needs, runs for real
select ok(not has_function_privilege('pgrun_test_worker', 'pgrun.complete_jobs(bigint[])', 'execute'),
  'worker may not call the admin functions');
select ok(not has_function_privilege('pgrun_test_worker', 'pgrun.cancel_jobs(bigint[], text)', 'execute'),
  'nor cancel jobs');
select ok(not has_function_privilege('pgrun_test_worker', 'pgrun.set_dead_letter(text, text, text)', 'execute'),
  'nor set dead letters');
set local role pgrun_test_worker;
select pgrun.register_worker('role-worker-1');
select pgrun.add_job('t', queue_name => 'q');
select is((select o.outcome from pgrun.claim_jobs('role-worker-1', 1) as c,
             lateral pgrun.complete_attempts('role-worker-1', array[c.id], array[c.lease]) as o where c.id is not null),
  'completed', 'a worker role registers, claims and completes');
select pgrun.add_job('t');
select is((select o.outcome from pgrun.claim_jobs('role-worker-1', 1) as c,
             lateral pgrun.snooze_attempts('role-worker-1', array[c.id], array[c.lease], array[interval '1 hour']) as o
           where c.id is not null),
  'scheduled', 'and snoozes');
select lives_ok($$select pgrun.heartbeat('role-worker-1')$$, 'and beats');
select lives_ok($$select pgrun.maintain()$$, 'and maintains');
select throws_ok($$select pgrun.grant_admin('pgrun_test_worker')$$, '42501',
  'permission denied for function grant_admin', 'it cannot grant itself more');
reset role;

-- TEST: admin: the worker's functions and the admin functions
set local role pgrun_test_admin;
select lives_ok($$select pgrun.complete_jobs(array[(pgrun.add_job('t')).id])$$, 'an admin role completes jobs');
select lives_ok($$select pgrun.set_retention(interval '1 day', null, null)$$, 'and sets retention');
select lives_ok($$select pgrun.cancel_jobs(array[(pgrun.add_job('t')).id], 'by an admin')$$, 'and cancels jobs');
select lives_ok($$select pgrun.set_dead_letter('dlq', 'never-runs')$$, 'and sets dead letters');
select lives_ok($$select pgrun.set_priority_aging(interval '1 minute')$$, 'and turns priority aging on');
reset role;
select ok(has_function_privilege('pgrun_test_read', 'pgrun.priority_aging()', 'execute')
          and not has_function_privilege('pgrun_test_read', 'pgrun.set_priority_aging(interval, integer)', 'execute'),
  'a read role may see the aging setting, not change it');

-- TEST: revoke_all takes everything back
select pgrun.revoke_all('pgrun_test_worker');
select ok(not has_function_privilege('pgrun_test_worker', 'pgrun.claim_jobs(text, integer, text[], text[], timestamptz)', 'execute')
          and not has_table_privilege('pgrun_test_worker', 'pgrun._private_jobs', 'select')
          and not has_schema_privilege('pgrun_test_worker', 'pgrun', 'usage'),
  'the worker role has no function, table or schema right left');
select is_empty($$select from pgrun._private_grants where role_name = 'pgrun_test_worker'$$, 'and no grant recorded');

select finish();
rollback;
