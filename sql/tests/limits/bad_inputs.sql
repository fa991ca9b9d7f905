begin;
select plan(20);
select pgrun_tests.reset();

-- TEST: set_limit refuses what cannot be a limit, each with its own words
select throws_ok($$select pgrun.set_limit(null, max_running => 1)$$, '22023',
  'key must be 1 to 128 characters (got NULL)', 'a null key');
select throws_ok($$select pgrun.set_limit('', max_running => 1)$$, '22023',
  'key must be 1 to 128 characters (got '''')', 'an empty key');
select throws_ok(format('select pgrun.set_limit(%L, max_running => 1)', repeat('k', 129)), '22023',
  null, 'a key of 129 characters');
select throws_ok($$select pgrun.set_limit('a*b', max_running => 1)$$, '22023',
  'key may hold * only at its end, after a prefix (got ''a*b'')', 'a star inside a key');
select throws_ok($$select pgrun.set_limit('*', max_running => 1)$$, '22023',
  'key may hold * only at its end, after a prefix (got ''*'')', 'a lone star');
select throws_ok($$select pgrun.set_limit('k', max_running => 0)$$, '22023',
  'max_running must be at least 1 (got 0); pause_queue stops a queue', 'max_running 0');
select throws_ok($$select pgrun.set_limit('k', max_per_period => 5)$$, '22023',
  'max_per_period and period go together (got 5 per NULL)', 'a rate without its period');
select throws_ok($$select pgrun.set_limit('k', max_per_period => 0, period => '1 second')$$, '22023',
  'a rate needs max_per_period of at least 1 and a positive period (got 0 per 00:00:01)', 'a rate of 0');
select throws_ok($$select pgrun.set_limit('k', max_per_period => 5, period => '0 seconds')$$, '22023',
  'a rate needs max_per_period of at least 1 and a positive period (got 5 per 00:00:00)', 'a period of 0');
select throws_ok($$select pgrun.set_limit('k', max_running => 2, burst => 3)$$, '22023',
  'burst needs a rate (max_per_period and period)', 'a burst without a rate');
select throws_ok($$select pgrun.set_limit('k', max_per_period => 5, period => '1 second', burst => 6)$$, '22023',
  'burst must be between 1 and max_per_period 5 (got 6)', 'a burst over the rate');
select throws_ok($$select pgrun.set_limit('k')$$, '22023',
  'set_limit needs max_running or a rate (max_per_period and period); remove_limit removes one', 'no limit at all');
select is((select count(*)::integer from pgrun._private_limits), 0, 'none of those stored anything');

-- TEST: remove_limit and pause_limit_key
select throws_ok($$select pgrun.remove_limit(null)$$, '22004', 'key must not be null', 'remove_limit of null');
select is(pgrun.remove_limit('never-set'), false, 'remove_limit of a key without a limit says false');
select throws_ok($$select pgrun.pause_limit_key('tenant:*', '1 minute')$$, '22023',
  'key must be 1 to 128 characters, not a pattern (got ''tenant:*'')', 'a pattern cannot be paused');
select throws_ok($$select pgrun.pause_limit_key('k', '-1 second')$$, '22023',
  'retry_after must be zero or more (got ''-00:00:01'')', 'a negative retry_after');

-- TEST: add_job and add_jobs check limit_keys
select throws_ok($$select pgrun.add_job('t', limit_keys => array['a', null])$$, '22023',
  'limit_keys must be keys of 1 to 128 characters, not null and not ending in * (got {a,NULL})', 'a null key');
select throws_ok($$select pgrun.add_job('t', limit_keys => array['a', 'a'])$$, '22023',
  'limit_keys must not repeat a key (got {a,a})', 'a repeated key');
select throws_ok($$select pgrun.add_jobs(array[('t', null, null, null, null, null, null, null, null, null),
                                               ('t', null, null, null, null, null, null, null, null, array['p*'])]::pgrun.job_spec[])$$,
  '22023', 'specs[2]: limit_keys must be keys of 1 to 128 characters, not null and not ending in * (got {p*})',
  'add_jobs names the spec');

select finish();
rollback;
