begin;
select plan(6);
select pgrun_tests.reset();

-- TEST: flags are stored as a jsonb object of flag -> true, so ?| can test them
select id as flagged_id from pgrun.add_job('sms.send', flags => array['gateway-a', 'bulk']) \gset
select is((select flags from pgrun.jobs where id = :flagged_id), '{"bulk": true, "gateway-a": true}'::jsonb,
  'each flag becomes a key set to true');
select is(pg_typeof((select flags from pgrun.jobs where id = :flagged_id))::text, 'jsonb', 'flags is jsonb');
select is((pgrun.add_job('sms.send', flags => array['x', 'x'])).flags, '{"x": true}'::jsonb,
  'a repeated flag is stored once');

-- TEST: a null element among the flags is dropped
select is((pgrun.add_job('sms.send', flags => array['a', null])).flags, '{"a": true}'::jsonb,
  'a null flag is ignored');

-- TEST: no flags, or an empty array of flags, store null
select is((pgrun.add_job('sms.send')).flags, null, 'no flags store null');
select is((pgrun.add_job('sms.send', flags => '{}')).flags, null, 'an empty flags array stores null');

select finish();
rollback;
