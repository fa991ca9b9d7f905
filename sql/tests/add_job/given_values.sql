begin;
select plan(4);
select pgrun_tests.reset();

-- TEST: every value given to add_job is stored as given
select id as job_id from pgrun.add_job('reports.monthly', '{"month": "2024-05"}', 'reports',
  '2030-01-01 00:00:00+00', 3, 'report-2024-05', -5, array['slow']) \gset
select results_eq(
  format('select task_identifier, payload::text, queue_name, run_at, max_attempts, key, priority, flags,
                 attempts, revision, locked_at, last_error
          from pgrun.jobs where id = %s', :job_id),
  $$values ('reports.monthly', '{"month": "2024-05"}', 'reports', '2030-01-01 00:00:00+00'::timestamptz,
            3::smallint, 'report-2024-05', -5::smallint, '{"slow": true}'::jsonb,
            0::smallint, 0, null::timestamptz, null::text)$$,
  'task, payload, queue, run_at, max_attempts, key, priority and flags are stored; the job is fresh');
select is((select created_at from pgrun.jobs where id = :job_id), now(), 'created_at is now()');

-- TEST: a named queue gets its queue row: one job at a time, none running, not paused
select results_eq(
  $$select queue_name, max_running, running, paused from pgrun._private_job_queues$$,
  $$values ('reports', 1, 0, false)$$,
  'the queue row exists with Graphile''s serial default and nothing running');
select pgrun.add_job('reports.monthly', queue_name => 'reports');
select is((select count(*)::integer from pgrun._private_job_queues), 1,
  'a second job in the same queue reuses the queue row');

select finish();
rollback;
