begin;
select plan(6);
select pgrun_tests.reset();

-- TEST: add_jobs inserts every spec and returns one row per spec, in spec order
create temporary table added on commit drop as
select row_number() over () as n, j.*
from pgrun.add_jobs(array[
  row('emails.send', '{"to": "a@example.com"}', null, null, null, null, null, null, null, null)::pgrun.job_spec,
  row('emails.send', '{"to": "b@example.com"}', 'mail', now() + interval '1 hour', 3, null, -1, array['smtp'], null, null)::pgrun.job_spec,
  row('reports.build', null, 'reports', null, null, 'report-1', 4, null, null, null)::pgrun.job_spec
]) as j;

select is((select count(*)::integer from added), 3, 'three rows are returned');
select is((select count(*)::integer from pgrun.jobs), 3, 'three jobs are stored');
select results_eq(
  $$select task_identifier, payload::text, queue_name, run_at, max_attempts, key, priority, flags
    from added order by n$$,
  $$values ('emails.send', '{"to": "a@example.com"}', null::text, now(), 25::smallint, null::text, 0::smallint, null::jsonb),
           ('emails.send', '{"to": "b@example.com"}', 'mail', now() + interval '1 hour', 3::smallint, null, -1::smallint, '{"smtp": true}'::jsonb),
           ('reports.build', '{}', 'reports', now(), 25::smallint, 'report-1', 4::smallint, null)$$,
  'each row carries its spec''s values, with add_job''s defaults for what is null');
select results_eq(
  $$select id, attempts, revision, locked_at from added order by n$$,
  $$select id, attempts, revision, locked_at from pgrun.jobs order by id$$,
  'the returned rows are the stored jobs');

-- TEST: named queues of the specs get their queue rows
select results_eq(
  $$select queue_name from pgrun._private_job_queues order by queue_name$$,
  $$values ('mail'), ('reports')$$,
  'queue rows exist for mail and reports');

-- TEST: an empty array adds nothing
select is_empty($$select * from pgrun.add_jobs('{}')$$, 'an empty array of specs returns no rows');

select finish();
rollback;
