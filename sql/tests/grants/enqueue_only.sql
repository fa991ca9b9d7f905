begin;
select plan(16);
select pgrun_tests.reset();

-- Fault 9: the enqueue-only role read other jobs' payloads (unsafe_dedupe
-- returned the existing row), rewrote any pending keyed job (replace), read
-- batch contents and stored payloads of any size. Now it can add jobs and
-- learns nothing of jobs it did not add.

-- SETUP: the application's own job holds a secret under key 'reset:alice';
-- role web may only enqueue
select id as secret_id from pgrun.add_job('emails.reset', '{"token": "s3cret"}', job_key => 'reset:alice') \gset
select pgrun.add_job('emails.digest', '[{"token": "t0ken"}]', job_key => 'digest');
create role pgrun_test_web;
select pgrun.grant_enqueue('pgrun_test_web');
set local role pgrun_test_web;

-- TEST: it adds jobs, one or many
select lives_ok($$select pgrun.add_job('emails.welcome', '{"to": "bob"}')$$, 'add_job works');
select lives_ok($$select pgrun.add_jobs(array[row('emails.welcome', null, null, null, null, null, null, null, null, null)::pgrun.job_spec])$$,
  'add_jobs works');
select is((pgrun.add_job('emails.welcome', '{"v": 1}', job_key => 'own')).payload, '{"v": 1}'::jsonb,
  'it sees the job it adds');
select is((pgrun.add_job('emails.welcome', '{"v": 2}', job_key => 'own')).revision, 1,
  'and may replace its own keyed job');

-- TEST: a key held by someone else's job: replace is refused, unsafe_dedupe is blind
select throws_ok($$select pgrun.add_job('emails.reset', '{"token": "mine"}', job_key => 'reset:alice')$$,
  '42501', 'job_key ''reset:alice'' is held by a job this role did not add', 'replacing another''s keyed job is refused');
select throws_ok($$select pgrun.add_job('emails.reset', job_key => 'reset:alice', job_key_mode => 'preserve_run_at')$$,
  '42501', 'job_key ''reset:alice'' is held by a job this role did not add', 'so is preserve_run_at');
select results_eq(
  $$select id, key, payload, task_identifier, revision from pgrun.add_job('emails.reset', job_key => 'reset:alice',
                                                                     job_key_mode => 'unsafe_dedupe')$$,
  $$values (null::bigint, 'reset:alice', null::jsonb, null::text, null::integer)$$,
  'unsafe_dedupe answers a row with only the key: nothing of the other job');
select throws_ok($$select pgrun.add_jobs(array[row('emails.digest', '[{"x": 1}]', null, null, null, 'digest', null, null, null, null)::pgrun.job_spec])$$,
  '42501', 'job_key ''digest'' is held by a job this role did not add', 'add_jobs cannot append to another''s batch');

-- TEST: it can read nothing and call nothing else
select throws_ok($$select * from pgrun.jobs$$, '42501', 'permission denied for view jobs', 'the jobs view is closed to it');
select throws_ok($$select * from pgrun._private_jobs$$, '42501', 'permission denied for table _private_jobs',
  'the jobs table is closed to it');
select throws_ok($$select * from pgrun.claim_jobs('web-worker-1', 1)$$, '42501',
  'permission denied for function claim_jobs', 'it cannot claim');
select throws_ok(format('select pgrun.complete_jobs(array[%s]::bigint[])', :secret_id), '42501',
  'permission denied for function complete_jobs', 'it cannot complete jobs');
select throws_ok($$select pgrun.remove_job('reset:alice')$$, '42501',
  'permission denied for function remove_job', 'it cannot remove jobs');
select throws_ok(format('select * from pgrun.get_result(%s)', :secret_id), '42501',
  'permission denied for function get_result', 'it cannot read results');
reset role;

-- TEST: the other jobs are untouched, and its own carry its name
select results_eq(format('select payload, revision from pgrun.jobs where id = %s', :secret_id),
  $$values ('{"token": "s3cret"}'::jsonb, 0)$$, 'the secret job was neither changed nor bumped');
select is((select array_agg(distinct created_by) from pgrun._private_jobs where task_identifier = 'emails.welcome'),
  array['pgrun_test_web']::name[], 'the role''s jobs carry created_by');

select finish();
rollback;
