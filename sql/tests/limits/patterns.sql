begin;
select plan(11);
select pgrun_tests.reset();

-- SETUP: a tenant pattern, a more specific tier pattern, one tenant of its own
select pgrun.set_limit('tenant:*', max_running => 2);
select pgrun.set_limit('tenant:enterprise:*', max_running => 10);
select pgrun.set_limit('tenant:enterprise:acme', max_running => 50);
select pgrun.add_job('t', queue_name => q) from unnest(array['tenant:1', 'tenant:enterprise:7',
  'tenant:enterprise:acme', 'plain']) as q;
select pgrun.add_job('t', limit_keys => array['provider', 'tenant:2']);

-- TEST: the most specific limit wins; a queue without one runs one at a time, a limit key without one is unlimited
select results_eq($$select queue_name, max_running, limit_only, has_limit from pgrun._private_job_queues order by 1$$,
  $$values ('plain', 1, false, false), ('provider', 2147483647, true, false), ('tenant:1', 2, false, true),
           ('tenant:2', 2, true, true), ('tenant:enterprise:7', 10, false, true),
           ('tenant:enterprise:acme', 50, false, true)$$,
  'each key has the limit of its most specific match');
select is((pgrun._limit_for('tenant:enterprise:9')).key, 'tenant:enterprise:*', '_limit_for: the longest prefix');
select is((pgrun._limit_for('tenantx')).key, null, '_limit_for: a prefix must match from the start');

-- TEST: changes reach existing keys at once
select pgrun.set_limit('tenant:*', max_running => 3, max_per_period => 6, period => '1 minute');
select results_eq($$select queue_name, max_running, max_per_period, period, burst from pgrun._private_job_queues
                    where queue_name in ('tenant:1', 'tenant:2', 'tenant:enterprise:7') order by 1$$,
  $$values ('tenant:1', 3, 6, interval '1 minute', 6), ('tenant:2', 3, 6, interval '1 minute', 6),
           ('tenant:enterprise:7', 10, null, null::interval, null)$$,
  'a changed pattern changes its keys, not those a more specific one holds');

-- TEST: removing falls back to the next match, then to the default
select is(pgrun.remove_limit('tenant:enterprise:acme'), true, 'remove_limit says it removed one');
select is((select max_running from pgrun._private_job_queues where queue_name = 'tenant:enterprise:acme'), 10,
  'acme falls back to its tier');
select pgrun.remove_limit('tenant:*');
select results_eq($$select queue_name, max_running, max_per_period, has_limit from pgrun._private_job_queues
                    where queue_name in ('tenant:1', 'tenant:2') order by 1$$,
  $$values ('tenant:1', 1, null::integer, false), ('tenant:2', 2147483647, null, false)$$,
  'without a limit a queue runs one at a time again, a limit key is unlimited');

-- TEST: a new key takes its pattern's limit when first used
select pgrun.set_limit('region:*', max_running => 4);
select pgrun.add_job('t', queue_name => 'region:eu');
select pgrun.add_jobs(array[('t', null, null, null, null, null, null, null, null, array['region:us'])]::pgrun.job_spec[]);
select results_eq($$select queue_name, max_running from pgrun._private_job_queues where queue_name like 'region:%' order by 1$$,
  $$values ('region:eu', 4), ('region:us', 4)$$, 'new keys from add_job and add_jobs take the pattern''s limit');

-- TEST: a limit key first used as a queue becomes a queue (its default is 1 again)
select pgrun.add_job('t', queue_name => 'provider');
select results_eq($$select limit_only, max_running from pgrun._private_job_queues where queue_name = 'provider'$$,
  $$values (false, 1)$$, 'provider is a queue now');

-- TEST: a raised limit lists a full queue again, so its jobs are claimed at once
select pgrun_tests.register(1);
select pgrun.add_job('t', queue_name => 'wide') from generate_series(1, 3);
select is((select count(*)::integer from pgrun_tests.claim(1, 10, array['t'])
           where id in (select id from pgrun._private_jobs where queue_name = 'wide')), 1, 'wide runs one job');
select pgrun.set_limit('wide', max_running => 3);
select is((select count(*)::integer from pgrun_tests.claim(1, 10, array['t'])
           where id in (select id from pgrun._private_jobs where queue_name = 'wide')), 2,
  'after set_limit the next claim takes its two others');

select finish();
rollback;
