begin;
select plan(9);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: three runnable jobs, one in a named queue
select id as a_id from pgrun.add_job('emails.send', '{"to": "a@example.com"}', 'mail',
  now() - interval '3 minutes', 5, 'k-a', null, array['smtp']) \gset
select id as b_id from pgrun.add_job('emails.send', run_at => now() - interval '2 minutes') \gset
select id as c_id from pgrun.add_job('emails.send', run_at => now() - interval '10 seconds') \gset

-- TEST: a claim returns its jobs best first, each with this claim's lease
create temporary table claimed on commit drop as
select * from pgrun.claim_jobs(pgrun_tests.worker(1), 2, now => now() + interval '10 seconds');
select results_eq(
  $$select id, queue_name, task_identifier, payload, priority, run_at, attempts, max_attempts, last_error,
           key, locked_at, revision, flags, next_due_in, look_again from claimed order by run_at$$,
  format($$values (%s::bigint, 'mail', 'emails.send', '{"to": "a@example.com"}'::jsonb, 0::smallint,
                   now() - interval '3 minutes', 1::smallint, 5::smallint, null::text, 'k-a',
                   now() + interval '10 seconds', 0, '{"smtp": true}'::jsonb, null::float8, null::boolean),
                  (%s, null, 'emails.send', '{}', 0::smallint, now() - interval '2 minutes', 1::smallint,
                   25::smallint, null, null, now() + interval '10 seconds', 0, null, null, null)$$, :a_id, :b_id),
  'the two best jobs come back as claimed: attempt 1, locked at the claim''s now, no sentinel row');
select is((select count(distinct lease)::integer from claimed where lease is not null), 1,
  'both carry the same lease: one per claim');
select is(pg_typeof((select payload from claimed limit 1))::text, 'jsonb', 'the payload is jsonb');

-- TEST: the stored jobs say the same: running, for this worker, under that lease
select results_eq(
  format('select id, state, locked_by, lease, attempts, updated_at from pgrun._private_jobs where id in (%s, %s) order by id',
         :a_id, :b_id),
  format($$select id, 'running', %L, lease, attempts, now() + interval '10 seconds' from claimed order by id$$,
         pgrun_tests.worker(1)),
  'state running, locked_by the worker, the claim''s lease, updated at the claim''s now');
select is(pgrun_tests.state(:c_id), 'available', 'the third job is left available');

-- TEST: each claim takes a new lease
select cmp_ok((select lease from pgrun_tests.claim(1)), '>', (select max(lease) from claimed),
  'the next claim''s lease is a new, larger one');
select is(pgrun_tests.lease(:c_id), (select lease from pgrun._private_jobs where id = :c_id),
  'the third job runs under that new lease');

-- TEST: the jobs' attempt start is the claim's now and stays so
select pgrun.heartbeat(pgrun_tests.worker(1));
select is((select locked_at from pgrun.jobs where id = :a_id), now() + interval '10 seconds',
  'a beat leaves locked_at alone');
select is((select running from pgrun._private_job_queues where queue_name = 'mail'), 1,
  'the queue counts its running job');

select finish();
rollback;
