begin;
select plan(3);
select pgrun_tests.reset();

-- TEST: nobody runs its task: no worker at all, or only workers of other tasks, or dead ones
select id as job_id from pgrun.add_job('reports.build') \gset
select is((select reason from pgrun.explain_job(:job_id)), 'available, but no live worker runs task reports.build',
  'no worker at all');
select pgrun.register_worker('explain-worker-1', '{"tasks": ["emails.send"]}');
select is((select reason from pgrun.explain_job(:job_id)), 'available, but no live worker runs task reports.build',
  'only a worker of other tasks');
update pgrun._private_workers set last_heartbeat_at = now() - interval '1 hour', info = '{"tasks": ["reports.build"]}';
select is((select reason from pgrun.explain_job(:job_id)), 'available, but no live worker runs task reports.build',
  'only a worker whose lease ran out');

select finish();
rollback;
