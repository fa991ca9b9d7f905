begin;
select plan(3);
select pgrun_tests.reset();

-- A grant_enqueue restricts the roles it names (and their members), nobody
-- else: a role given EXECUTE on add_job by hand, outside pgrun's grants,
-- keeps replacing keyed jobs as before.

-- SETUP: role web is enqueue-only; role app got EXECUTE by a plain GRANT
select id as keyed_id from pgrun.add_job('t', '{"v": 1}', job_key => 'shared') \gset
create role pgrun_test_web;
create role pgrun_test_app;
select pgrun.grant_enqueue('pgrun_test_web');
grant usage on schema pgrun to pgrun_test_app;
grant usage on type pgrun.job_spec to pgrun_test_app;
grant execute on function pgrun.add_job(text, json, text, timestamptz, integer, text, integer, text[], text, interval, jsonb, bigint[], text[])
  to pgrun_test_app;

-- TEST: the role outside pgrun's grants is not restricted
set local role pgrun_test_app;
select is((pgrun.add_job('t', '{"v": 2}', job_key => 'shared')).id, :keyed_id::bigint,
  'app replaces the keyed job it did not add, as any unrestricted caller may');
select is((pgrun.add_job('t', '{"v": 3}', job_key => 'shared', job_key_mode => 'unsafe_dedupe')).payload,
  '{"v": 2}'::jsonb, 'and unsafe_dedupe shows it the job that holds the key');
reset role;

-- TEST: the role named by grant_enqueue is
set local role pgrun_test_web;
select throws_ok($$select pgrun.add_job('t', '{"v": 4}', job_key => 'shared')$$, '42501',
  'job_key ''shared'' is held by a job this role did not add', 'web may not replace it');
reset role;

select finish();
rollback;
