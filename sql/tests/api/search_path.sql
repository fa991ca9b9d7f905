begin;
select plan(4);
select pgrun_tests.reset();

-- SETUP: a caller whose search_path holds neither pgrun nor public, but an
-- application schema with tables named like pgrun's; a live worker that has
-- beaten for a minute
create schema app;
create table app._private_jobs (id bigint);
create table app._private_job_queues (queue_name text);
create table app._private_queue_heads (queue_name text);
create table app._private_workers (worker_id text);
create table app._private_retention (task_identifier text);
create table app.jobs (id bigint);
create temporary table seen (step text, id bigint);
select pgrun.register_worker('search-path-worker', now => now() - interval '1 minute');
select pgrun.record_heartbeat('search-path-worker', now => now() - interval '1 minute' + n * interval '5 seconds')
from generate_series(1, 12) as n;

-- TEST: the whole job life cycle works with that search_path (any unqualified
-- name inside pgrun would hit app's tables or fail)
set local search_path = app;
insert into seen select 'added', (pgrun.add_job('t', queue_name => 'q', job_key => 'k')).id;
insert into seen select 'replaced', (pgrun.add_job('t', queue_name => 'q', job_key => 'k')).id;
insert into seen select 'later', (pgrun.add_job('t', run_at => now() + interval '1 hour', job_key => 'k2')).id;
insert into seen select 'batch', id from pgrun.add_jobs(array[row('t', null, null, null, null, null, null, null, null, null)::pgrun.job_spec]);
select pgrun.heartbeat('search-path-worker');
insert into seen select 'claimed', id from pgrun.get_jobs('search-path-worker', max_jobs => 5);
insert into seen select 'failed', id from pgrun.fail_held_jobs('search-path-worker',
  (select array_agg(id) from seen where step = 'claimed'), array['boom', 'boom']);
insert into seen select 'rescheduled', id from pgrun.reschedule_jobs((select array_agg(id) from seen where step = 'failed'),
  run_at => now());
insert into seen select 'claimed again', id from pgrun.get_jobs('search-path-worker', max_jobs => 5);
insert into seen select 'returned', * from pgrun.return_held_jobs('search-path-worker',
  (select array_agg(id) from seen where step = 'claimed again'));
insert into seen select 'claimed once more', (pgrun.get_job('search-path-worker')).id;
select pgrun.complete_job('search-path-worker', (select id from seen where step = 'claimed once more'));
create temporary table leased as select id, lease from pgrun.claim_jobs('search-path-worker', 5) where id is not null;
insert into seen select 'completed', job_id from pgrun.complete_attempts('search-path-worker',
  (select array_agg(id) from leased), (select array_agg(lease) from leased)) where outcome = 'completed';
insert into seen select 'fresh', (pgrun.add_job('t')).id;
truncate leased;
insert into leased select id, lease from pgrun.claim_jobs('search-path-worker', 5) where id is not null;
insert into seen select 'failed attempt', job_id from pgrun.fail_attempts('search-path-worker',
  (select array_agg(id) from leased), (select array_agg(lease) from leased), array['boom']) where outcome = 'retryable';
insert into seen select 'due now', id from pgrun.reschedule_jobs(
  (select array_agg(id) from pgrun.jobs where state in ('scheduled', 'retryable')), run_at => now());
truncate leased;
insert into leased select id, lease from pgrun.claim_jobs('search-path-worker', 5) where id is not null;
insert into seen select 'given back', job_id from pgrun.return_attempts('search-path-worker',
  (select array_agg(id) from leased), (select array_agg(lease) from leased)) where outcome = 'returned';
insert into seen select 'removed', (pgrun.remove_job('k2')).id;
insert into seen select 'failed by admin', id from pgrun.permanently_fail_jobs(
  (select array_agg(id) from pgrun.jobs));
insert into seen select 'completed by admin', id from pgrun.complete_jobs((select array_agg(id) from pgrun.jobs));
insert into seen select 'dying', (pgrun.add_job('t', run_at => now() - interval '2 minutes')).id;
select pgrun.register_worker('search-path-dead', now => now() - interval '1 minute');
select pgrun.claim_jobs('search-path-dead', 1, now => now() - interval '1 minute');
insert into seen select 'released', released_jobs from pgrun.release_dead_workers(interval '20 seconds', now());
select pgrun.set_retention(interval '1 day', null, null);
truncate leased;
insert into leased select id, lease from pgrun.claim_jobs('search-path-worker', 5) where id is not null;
select pgrun.complete_attempts('search-path-worker', (select array_agg(id) from leased),
  (select array_agg(lease) from leased), array['{"ok": true}'::jsonb]);
insert into seen select 'kept', l.id from leased as l, pgrun.get_result(l.id) as r where r.result = '{"ok": true}';
insert into seen select 'pruned', pgrun.prune_jobs(1000, now() + interval '2 days');
select pgrun.remove_retention();
select pgrun.maintain();
select pgrun.force_unlock_workers(array['search-path-worker']);
select pgrun.unregister_worker('search-path-worker');
set local search_path = public;

select results_eq(
  $$select step, count(id)::integer from seen group by step order by min(ctid)$$,
  $$values ('added', 1), ('replaced', 1), ('later', 1), ('batch', 1), ('claimed', 2), ('failed', 2), ('rescheduled', 2),
           ('claimed again', 2), ('returned', 2), ('claimed once more', 1), ('completed', 1), ('fresh', 1),
           ('failed attempt', 1), ('due now', 2), ('given back', 2), ('removed', 1), ('failed by admin', 1),
           ('completed by admin', 1), ('dying', 1), ('released', 1), ('kept', 1), ('pruned', 1)$$,
  'every step acted on pgrun''s jobs');
select is((select count(*)::integer from pgrun.jobs), 0, 'every job is gone in the end');
select is((select count(*)::integer from app._private_jobs) + (select count(*)::integer from app._private_workers)
          + (select count(*)::integer from app._private_retention), 0,
  'the application''s look-alike tables were not touched');
select is((select count(*)::integer from app._private_job_queues) + (select count(*)::integer from app._private_queue_heads), 0,
  'nor its queue look-alikes');

select finish();
rollback;
