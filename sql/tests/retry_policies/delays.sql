begin;
select plan(12);

-- TEST: exponential with base 1 is Graphile's exp(least(attempt, 10)) seconds
select is(pgrun.retry_delay('exponential', 1, random => 0), exp(1) * interval '1 second',
  'exponential, base 1, attempt 1: e seconds');
select is(pgrun.retry_delay('exponential', 12, random => 0), exp(10) * interval '1 second',
  'exponential: the wait stops growing at attempt 10');
select is(pgrun.retry_delay('exponential', 3, base => 0.5, random => 0), 0.5 * exp(3) * interval '1 second',
  'exponential, base 0.5: half of e^3 seconds');

-- TEST: linear and fixed
select is(pgrun.retry_delay('linear', 4, base => 30, random => 0), interval '120 seconds',
  'linear, step 30 s, attempt 4: 120 s');
select is(pgrun.retry_delay('fixed', 7, base => 45, random => 0), interval '45 seconds',
  'fixed 45 s: 45 s at attempt 7');
select is(pgrun.retry_delay('fixed', 1, random => 0), interval '1 second', 'fixed with the default base: 1 s');

-- TEST: max_delay caps the wait before the jitter
select is(pgrun.retry_delay('linear', 10, base => 30, max_delay => 100, random => 0), interval '100 seconds',
  'linear 300 s capped at 100 s');
select is(pgrun.retry_delay('exponential', 9, max_delay => 60, random => 0), interval '60 seconds',
  'exponential e^9 s capped at 60 s');

-- TEST: jitter makes the wait up to that fraction earlier, never later
select is(pgrun.retry_delay('fixed', 1, base => 100, jitter => 0.2, random => 0), interval '100 seconds',
  'jitter 0.2, random 0: the whole wait');
select is(pgrun.retry_delay('fixed', 1, base => 100, jitter => 0.2, random => 0.5), interval '90 seconds',
  'jitter 0.2, random 0.5: 10 % earlier');
select ok((select bool_and(d between interval '80 seconds' and interval '100 seconds')
           from (select pgrun.retry_delay('fixed', 1, base => 100, jitter => 0.2) as d
                 from generate_series(1, 200)) as draws),
  'jitter 0.2, 200 random draws: each between 80 and 100 s');
select is(pgrun.retry_delay('linear', 10, base => 30, max_delay => 100, jitter => 1, random => 0.25),
  interval '75 seconds', 'the jitter applies to the capped wait');

select finish();
rollback;
