begin;
select plan(14);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: task a: two available (one waiting since 10 minutes ago), one
-- scheduled; task b in queue q: one running; task c: one failed
select pgrun.add_job('a', run_at => now() - interval '10 minutes');
select pgrun.add_job('a');
select pgrun.add_job('a', run_at => now() + interval '1 hour');
select pgrun.add_job('b', queue_name => 'q');
select pgrun_tests.claim(1, 1, array['b']);
select id as c_id from pgrun.add_job('c') \gset
select pgrun.permanently_fail_jobs(array[:c_id]::bigint[]);

-- TEST: with no count taken yet, job_counts counts now
select set_eq($$select task_identifier, queue_name, state, jobs, waiting_since from pgrun.job_counts()$$,
  $$values ('a', null::text, 'available', 2::bigint, now() - interval '10 minutes'),
           ('a', null, 'scheduled', 1, null::timestamptz),
           ('b', 'q', 'running', 1, null), ('c', null, 'failed', 1, null)$$,
  'jobs by task, queue and state; the oldest available job''s run_at');
select is((select bool_and(counted_at = now()) from pgrun.job_counts()), true, 'counted now');

-- TEST: maintain() takes a count; job_counts then reads it, however the jobs change
select pgrun.maintain();
select is((select counted_at from pgrun._private_job_counts), now(), 'maintain() took a count');
select pgrun.add_job('a');
select is((select jobs from pgrun.job_counts() where task_identifier = 'a' and state = 'available'), 2::bigint,
  'job_counts answers from the last count');
select is((select jobs from pgrun.job_counts(recount => true) where task_identifier = 'a' and state = 'available'),
  3::bigint, 'recount => true counts now');

-- TEST: maintain counts again only once the last count is older than job_counts_max_age
select pgrun.maintain(now => now() + interval '2 seconds');
select is((select counted_at from pgrun._private_job_counts), now(), 'not within 5 seconds');
select pgrun.maintain(now => now() + interval '6 seconds');
select is((select counted_at from pgrun._private_job_counts), now() + interval '6 seconds', 'after 5 seconds it does');
select is((select jobs from pgrun.job_counts() where task_identifier = 'a' and state = 'available'), 3::bigint,
  'and job_counts reads the new count');

-- TEST: nor sooner than 50 times what the last count took
update pgrun._private_job_counts set took = interval '1 second';
select pgrun.maintain(now => now() + interval '30 seconds');
select is((select counted_at from pgrun._private_job_counts), now() + interval '6 seconds',
  'a count that took 1 s waits 50 s before the next');

-- TEST: a count cut short (the caller's statement_timeout) keeps the last
-- count, remembers how long the try took, and lets maintain() finish
create function pgrun_tests.cut_short() returns jsonb language plpgsql as $$
begin
  raise query_canceled using message = 'canceling statement due to statement timeout';
end $$;
alter function pgrun._count_jobs() rename to _count_jobs_real;
alter function pgrun_tests.cut_short() set schema pgrun;
alter function pgrun.cut_short() rename to _count_jobs;
select lives_ok($$select pgrun.maintain(now => now() + interval '10 minutes')$$, 'maintain() finishes');
select is((select jobs from pgrun.job_counts() where task_identifier = 'a' and state = 'available'), 3::bigint,
  'the last count stays');
select results_eq($$select counted_at, tried_at from pgrun._private_job_counts$$,
  $$values (now() + interval '6 seconds', now() + interval '10 minutes')$$,
  'and says when it was taken; the try is remembered');
update pgrun._private_job_counts set took = interval '1 minute';
select is(pgrun._refresh_job_counts(now() + interval '30 minutes'), false,
  'a try that took a minute waits 50 minutes before the next');
delete from pgrun._private_job_counts;
select pgrun._refresh_job_counts(now(), true);
select is_empty($$select from pgrun.job_counts()$$, 'with no count finished yet, job_counts gives none (no scan)');

select finish();
rollback;
