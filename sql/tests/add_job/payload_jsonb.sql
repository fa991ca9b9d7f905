begin;
select plan(6);
select pgrun_tests.reset();

-- TEST: payloads are stored as jsonb (the argument stays json for Graphile's API)
select col_type_is('pgrun', '_private_jobs', 'payload', 'jsonb', 'the payload column is jsonb');
select is((select payload from pgrun.add_job('t', '{"b": 1, "a": [1, 2]}')), '{"a": [1, 2], "b": 1}'::jsonb,
  'a payload comes back as jsonb, keys normalised');
select is((select payload::text from pgrun.add_job('t', '{"a": 1, "a": 2}')), '{"a": 2}',
  'a repeated key keeps its last value, as jsonb does');

-- TEST: any JSON value is a payload; null means {}
select is((select payload from pgrun.add_job('t', '[1, "two"]')), '[1, "two"]'::jsonb, 'an array');
select is((select payload from pgrun.add_job('t', '"text"')), '"text"'::jsonb, 'a string');
select is((select payload from pgrun.add_job('t', null)), '{}'::jsonb, 'null becomes {}');

select finish();
rollback;
