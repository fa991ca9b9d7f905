begin;
select plan(2);
select pgrun_tests.reset();

-- TEST: the audit row belongs to the action's transaction
savepoint before_pause;
select pgrun.pause_queue('q');
select is((select count(*) from pgrun.audit_log), 1::bigint, 'the pause is recorded');
rollback to savepoint before_pause;
select is((select count(*) from pgrun.audit_log), 0::bigint, 'rolled back, it leaves no row');

select finish();
rollback;
