begin;
select plan(18);
select pgrun_tests.reset();

-- TEST: job_key_mode must be one of the three modes, even when no key is given
select throws_ok($$select pgrun.add_job('t', job_key => 'k', job_key_mode => 'merge')$$,
  '22023', 'invalid job_key_mode ''merge''; expected ''replace'', ''preserve_run_at'' or ''unsafe_dedupe''',
  'an unknown job_key_mode is refused');
select throws_ok($$select pgrun.add_job('t', job_key_mode => 'merge')$$,
  '22023', 'invalid job_key_mode ''merge''; expected ''replace'', ''preserve_run_at'' or ''unsafe_dedupe''',
  'an unknown job_key_mode is refused without a key too');
select throws_ok($$select pgrun.add_job('t', job_key => 'k', job_key_mode => 'REPLACE')$$,
  '22023', 'invalid job_key_mode ''REPLACE''; expected ''replace'', ''preserve_run_at'' or ''unsafe_dedupe''',
  'modes are case sensitive');

-- TEST: the task identifier is required and at most 128 characters
select throws_ok($$select pgrun.add_job(null)$$,
  '22023', 'task identifier must not be null or empty', 'a null identifier is refused');
select throws_ok($$select pgrun.add_job('')$$,
  '22023', 'task identifier must not be null or empty', 'an empty identifier is refused');
select throws_ok(format('select pgrun.add_job(%L)', repeat('t', 129)),
  '22023', 'task identifier is 129 characters long; the limit is 128', 'a 129-character identifier is refused');
select lives_ok(format('select pgrun.add_job(%L)', repeat('t', 128)), 'a 128-character identifier is accepted');

-- TEST: an empty queue name is refused (null means no queue)
select throws_ok($$select pgrun.add_job('t', queue_name => '')$$,
  '22023', 'queue name must not be empty (use null for no queue)', 'an empty queue name is refused');

-- TEST: queue names are at most 128 characters
select throws_ok(format('select pgrun.add_job(%L, queue_name => %L)', 't', repeat('q', 129)),
  '22023', 'queue name is 129 characters long; the limit is 128', 'a 129-character queue name is refused');
select lives_ok(format('select pgrun.add_job(%L, queue_name => %L)', 't', repeat('q', 128)),
  'a 128-character queue name is accepted');

-- TEST: a job key is 1 to 512 characters
select throws_ok($$select pgrun.add_job('t', job_key => '')$$,
  '22023', 'job_key must not be empty (use null for no key)', 'an empty job key is refused');
select throws_ok(format('select pgrun.add_job(%L, job_key => %L)', 't', repeat('k', 513)),
  '22023', 'job_key is 513 characters long; the limit is 512', 'a 513-character job key is refused');
select lives_ok(format('select pgrun.add_job(%L, job_key => %L)', 't', repeat('k', 512)),
  'a 512-character job key is accepted');

-- TEST: max_attempts at least 1, priority within smallint
select throws_ok($$select pgrun.add_job('t', max_attempts => 0)$$,
  '22023', 'max_attempts must be between 1 and 32767 (got 0)', 'max_attempts 0 is refused');
select throws_ok($$select pgrun.add_job('t', priority => 32768)$$,
  '22023', 'priority must be between -32768 and 32767 (got 32768)', 'priority above smallint is refused');
select throws_ok($$select pgrun.add_job('t', priority => -32769)$$,
  '22023', 'priority must be between -32768 and 32767 (got -32769)', 'priority below smallint is refused');

-- TEST: a payload that is not JSON fails at the cast, before add_job runs
select throws_ok($$select pgrun.add_job('t', 'not json')$$,
  '22P02', 'invalid input syntax for type json', 'a payload that is not JSON is refused');

-- TEST: nothing refused was stored
select is((select count(*)::integer from pgrun.jobs), 3, 'only the three accepted jobs exist');

select finish();
rollback;
