begin;
select plan(16);
select pgrun_tests.reset();

-- TEST: retry_delay refuses what no policy can be, saying what and which
select throws_ok($$select pgrun.retry_delay('quadratic', 1)$$, '22023',
  'invalid retry policy kind ''quadratic''; expected ''exponential'', ''linear'' or ''fixed''', 'an unknown kind');
select throws_ok($$select pgrun.retry_delay(null, 1)$$, '22023',
  'invalid retry policy kind NULL; expected ''exponential'', ''linear'' or ''fixed''', 'a null kind');
select throws_ok($$select pgrun.retry_delay('fixed', 1, base => 0)$$, '22023',
  'retry policy base must be a positive number of seconds (got 0)', 'a zero base');
select throws_ok($$select pgrun.retry_delay('linear', 1, base => -5)$$, '22023',
  'retry policy base must be a positive number of seconds (got -5)', 'a negative base');
select throws_ok($$select pgrun.retry_delay('fixed', 1, max_delay => 0)$$, '22023',
  'retry policy max_delay must be a positive number of seconds or null (got 0)', 'a zero max_delay');
select throws_ok($$select pgrun.retry_delay('fixed', 1, jitter => 1.5)$$, '22023',
  'retry policy jitter must be between 0 and 1 (got 1.5)', 'a jitter above 1');
select throws_ok($$select pgrun.retry_delay('fixed', 0)$$, '22023', 'attempt must be at least 1 (got 0)',
  'attempt 0');
select throws_ok($$select pgrun.retry_delay('fixed', 1, random => 1)$$, '22023', 'random must be in [0, 1) (got 1)',
  'a random draw of 1');

-- TEST: set_retry_policy refuses a bad task or policy and writes nothing
select throws_ok($$select pgrun.set_retry_policy('', 'fixed')$$, '22023',
  'task_identifier must be 1 to 128 characters (got '''')', 'an empty task identifier');
select throws_ok($$select pgrun.set_retry_policy('t', 'sometimes')$$, '22023',
  'invalid retry policy kind ''sometimes''; expected ''exponential'', ''linear'' or ''fixed''',
  'set_retry_policy: an unknown kind');
select is((select count(*)::integer from pgrun._private_retry_policies), 0, 'nothing was written');

-- TEST: add_job refuses a meta that is not an object, or a job policy it cannot use
select throws_ok($$select pgrun.add_job('t', meta => '[1]')$$, '22023', 'meta must be a JSON object (got array)',
  'meta must be an object');
select throws_ok($$select pgrun.add_job('t', meta => '{"retry": {"kind": "linear", "base": "soon"}}')$$, '22023',
  'meta.retry must be an object of kind (text), base, max_delay and jitter (numbers); got {"base": "soon", "kind": "linear"}',
  'meta.retry with a text base');
select throws_ok($$select pgrun.add_job('t', meta => '{"retry": {"kind": "linear", "jitter": 2}}')$$, '22023',
  'meta.retry: retry policy jitter must be between 0 and 1 (got 2)', 'meta.retry with a jitter of 2');

-- TEST: fail_attempts refuses more delays than jobs, and a negative one
select throws_ok(format($$select * from pgrun.fail_attempts(%L, array[1]::bigint[], array[1]::bigint[], array['x'],
                                                             null, array[interval '1 s', interval '2 s'])$$,
                        pgrun_tests.worker(1)),
  '22023', 'delays has 2 elements but job_ids has 1', 'more delays than jobs');
select throws_ok(format($$select * from pgrun.fail_attempts(%L, array[1]::bigint[], array[1]::bigint[], array['x'],
                                                             null, array[interval '-1 s'])$$, pgrun_tests.worker(1)),
  '22023', 'delays must not be negative', 'a negative delay');

select finish();
rollback;
