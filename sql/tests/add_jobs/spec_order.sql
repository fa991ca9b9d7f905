begin;
select plan(5);
select pgrun_tests.reset();

-- Fault 15: add_jobs answered in id order on one path and in spec order on
-- the other. Every path answers one row per spec, in the order of the specs.

-- SETUP: keyed jobs whose ids run opposite to the order the specs below name them
select id as z_id from pgrun.add_job('t', job_key => 'z') \gset
select id as y_id from pgrun.add_job('t', job_key => 'y') \gset
select id as x_id from pgrun.add_job('t', job_key => 'x') \gset

-- TEST: the plain path (no keys)
select results_eq(
  $$select payload ->> 'n' from pgrun.add_jobs(array[
      row('t', '{"n": "1"}', null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row('t', '{"n": "2"}', null, now() - interval '1 hour', null, null, -5, null, null, null)::pgrun.job_spec,
      row('t', '{"n": "3"}', 'q', null, null, null, null, null, null, null)::pgrun.job_spec])$$,
  $$values ('1'), ('2'), ('3')$$, 'specs 1, 2, 3 answered in that order');

-- TEST: the keyed path (distinct keys): existing jobs are answered where their spec stands
select results_eq(
  $$select case when key = 'new' then 0 else id end, key from pgrun.add_jobs(array[
      row('t', null, null, null, null, 'x', null, null, null, null)::pgrun.job_spec,
      row('t', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row('t', null, null, null, null, 'z', null, null, null, null)::pgrun.job_spec,
      row('t', null, null, null, null, 'new', null, null, null, null)::pgrun.job_spec,
      row('t', null, null, null, null, 'y', null, null, null, null)::pgrun.job_spec])
    where key is not null$$,
  format($$values (%s::bigint, 'x'), (%s, 'z'), (0, 'new'), (%s, 'y')$$,
         :x_id, :z_id, :y_id),
  'x, z, new, y: the order of the specs, not of the ids');
select is((select array_agg(key is null) from pgrun.add_jobs(array[
      row('t', null, null, null, null, 'y', null, null, null, null)::pgrun.job_spec,
      row('t', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row('t', null, null, null, null, 'x', null, null, null, null)::pgrun.job_spec])),
  array[false, true, false], 'an unkeyed spec between keyed ones keeps its place');

-- TEST: the path for a key named twice
select results_eq(
  $$select key, revision from pgrun.add_jobs(array[
      row('t', null, null, null, null, 'z', null, null, null, null)::pgrun.job_spec,
      row('t', null, null, null, null, 'x', null, null, null, null)::pgrun.job_spec,
      row('t', null, null, null, null, 'z', null, null, null, null)::pgrun.job_spec])$$,
  $$values ('z', 2), ('x', 3), ('z', 3)$$, 'z, x, z in spec order, each as that spec left it');

-- TEST: the path of a restricted role (spec by spec)
create role pgrun_test_spec_order;
select pgrun.grant_enqueue('pgrun_test_spec_order');
set local role pgrun_test_spec_order;
select results_eq(
  $$select payload ->> 'n' from pgrun.add_jobs(array[
      row('t', '{"n": "b"}', null, null, null, 'mine-b', null, null, null, null)::pgrun.job_spec,
      row('t', '{"n": "a"}', null, null, null, 'mine-a', null, null, null, null)::pgrun.job_spec,
      row('t', '{"n": "c"}', null, null, null, null, null, null, null, null)::pgrun.job_spec])$$,
  $$values ('b'), ('a'), ('c')$$, 'b, a, c in spec order');
reset role;

select finish();
rollback;
