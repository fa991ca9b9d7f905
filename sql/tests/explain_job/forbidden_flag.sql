begin;
select plan(1);
select pgrun_tests.reset();
select pgrun.register_worker('explain-worker-1', '{"tasks": ["t"]}');

-- TEST: flags are forbidden per claim: the reason says which flags could hold it
select id as job_id from pgrun.add_job('t', flags => array['gpu', 'big']) \gset
select is((select reason from pgrun.explain_job(:job_id)),
  'available: waiting for a free worker; it runs unless a worker forbids flag big, gpu',
  'runs unless a worker forbids flag X');

select finish();
rollback;
