begin;
select plan(2);
select pgrun_tests.reset();

-- TEST: nothing holds it: it waits for a free worker (one that registered its tasks, or any task)
select id as job_id from pgrun.add_job('reports.build') \gset
select pgrun.register_worker('explain-worker-1', '{"tasks": ["reports.build"]}');
select results_eq(format('select state, reason, until from pgrun.explain_job(%s)', :job_id),
  $$values ('available', 'available: waiting for a free worker', null::timestamptz)$$,
  'a live worker runs its task');
update pgrun._private_workers set info = '{}';
select is((select reason from pgrun.explain_job(:job_id)), 'available: waiting for a free worker',
  'a worker that did not say which tasks it runs counts too');

select finish();
rollback;
