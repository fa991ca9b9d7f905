begin;
select plan(14);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: two parents, and a child that depends on both
select id as p1 from pgrun.add_job('parent', '{"n": 1}') \gset
select id as p2 from pgrun.add_job('parent', '{"n": 2}', queue_name => 'q') \gset
select id as child from pgrun.add_job('child', depends_on => array[:p1, :p2], queue_name => 'cq') \gset

-- TEST: the child is blocked, says on which jobs, and no claim takes it
select is(pgrun_tests.state(:child), 'blocked', 'a job with unfinished parents is blocked');
select results_eq(format('select reason from pgrun.explain_job(%s)', :child),
  format($$values ('blocked: waiting on job %s, job %s')$$, :p1, :p2), 'explain_job names the jobs it waits on');
select is((select array_agg(c.id order by c.id) from pgrun_tests.claim(1, 10) as c), array[:p1, :p2]::bigint[],
  'a claim takes the parents, never the blocked child');
select is((select depends_on from pgrun.jobs where id = :child), array[:p1, :p2]::bigint[],
  'the jobs view shows depends_on');

-- TEST: one parent completes: the child records its result and still waits for the other
select results_eq(format($$select outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[],
                                                 array['{"total": 12}'::jsonb])$$,
                         pgrun_tests.worker(1), :p1, pgrun_tests.lease(:p1)),
  $$values ('completed')$$, 'the first parent completes');
select is(pgrun_tests.state(:child), 'blocked', 'the child still waits');
select is(pgrun.parent_results(:child), jsonb_build_object(:p1::text, '{"total": 12}'::jsonb),
  'parent_results holds what the completed parent returned');
select results_eq(format('select reason from pgrun.explain_job(%s)', :child),
  format($$values ('blocked: waiting on job %s')$$, :p2), 'explain_job names only the parent still to complete');
select is((select count(*) from pgrun.jobs where id = :p1), 0::bigint,
  'the completed parent left at once (no retention): its result stays with its child');

-- TEST: the last parent completes (the long way: it has a queue): the child is released into its queue
select results_eq(format($$select outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
                         pgrun_tests.worker(1), :p2, pgrun_tests.lease(:p2)),
  $$values ('completed')$$, 'the second parent completes');
select is(pgrun_tests.state(:child), 'available', 'with every parent completed the child is available');
select is(pgrun.parent_results(:child), jsonb_build_object(:p1::text, '{"total": 12}'::jsonb, :p2::text, 'null'::jsonb),
  'a parent that returned nothing is recorded as null');
select is((select count(*) from pgrun_tests.listed() as l where l.job_id = :child), 1::bigint,
  'its queue is listed for the claim, once');

-- TEST: a parent that completed and is still kept counts as completed at once
select pgrun.set_retention(interval '1 hour', null, null);
select id as kept from pgrun.add_job('parent') \gset
select from pgrun_tests.claim(1, 10);
select from pgrun.complete_attempts(pgrun_tests.worker(1), array[:kept]::bigint[], array[pgrun_tests.lease(:kept)],
                                    array['"done"'::jsonb]);
select is((select row(state, parent_results)::text from pgrun.add_job('child', depends_on => array[:kept])),
  row('available', jsonb_build_object(:kept::text, '"done"'::jsonb))::text,
  'a child of a retained completed parent is available at once, with its result');

select finish();
rollback;
