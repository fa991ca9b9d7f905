begin;
select plan(8);
select pgrun_tests.reset();
select pgrun_tests.register(1);
select id as existing from pgrun.add_job('existing') \gset

-- TEST: one add_jobs call makes a diamond (a; b and c after a; d after b, c and an existing job)
create temporary table added on commit drop as
select j.ordinality as spec, j.id, j.task_identifier, j.state, j.depends_on
from pgrun.add_jobs(array[
  row('a', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
  row('b', null, null, null, null, null, null, null, array[-1], null)::pgrun.job_spec,
  row('c', null, null, null, null, null, null, null, '{-1}', null)::pgrun.job_spec,
  row('d', null, 'q', null, null, null, null, null, array[-2, -3, :existing], null)::pgrun.job_spec]) with ordinality as j;
select results_eq('select task_identifier, state from added order by spec',
  $$values ('a', 'available'), ('b', 'blocked'), ('c', 'blocked'), ('d', 'blocked')$$,
  'one row per spec, in order; the roots available, the rest blocked');
select is((select array_agg(id order by spec) from added),
          (select array_agg(id order by id) from added), 'ids are taken in spec order');
select results_eq('select depends_on from added order by spec',
  format($$select depends_on from (values (1, null::bigint[]), (2, array[%1$s]), (3, array[%1$s]), (4, array[%2$s, %3$s, %4$s])) as v(n, depends_on) order by n$$,
         (select id from added where spec = 1), (select id from added where spec = 2), (select id from added where spec = 3), :existing),
  'references -k became the ids of specs k');
select is((select count(*) from pgrun._private_job_dependencies), 5::bigint, 'five links: b-a, c-a, d-b, d-c, d-existing');

-- TEST: the graph runs in its order
select id as a from added where spec = 1 \gset
select id as b from added where spec = 2 \gset
select id as c from added where spec = 3 \gset
select id as d from added where spec = 4 \gset
select from pgrun_tests.claim(1, 10);
select from pgrun.complete_attempts(pgrun_tests.worker(1), array[:a, :existing]::bigint[],
                                    array[pgrun_tests.lease(:a), pgrun_tests.lease(:existing)]);
select results_eq(format('select state from pgrun.jobs where id in (%s, %s, %s) order by id', :b, :c, :d),
  $$values ('available'), ('available'), ('blocked')$$, 'a done: b and c run, d waits for them');
select is((select array_agg(c.id order by c.id) from pgrun_tests.claim(1, 10) as c), array[:b, :c]::bigint[],
  'a claim takes b and c');
select from pgrun.complete_attempts(pgrun_tests.worker(1), array[:b, :c]::bigint[],
                                    array[pgrun_tests.lease(:b), pgrun_tests.lease(:c)], array['"b"'::jsonb, '"c"'::jsonb]);
select is(pgrun_tests.state(:d), 'available', 'b and c completed in one call: d is released');
select is(pgrun.parent_results(:d),
  jsonb_build_object(:b::text, 'b', :c::text, 'c', :existing::text, null),
  'd reads all three parents'' results');

select finish();
rollback;
