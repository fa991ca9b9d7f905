begin;
select plan(8);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: explain_job names the limit that holds a job, and until when
select pgrun.set_limit('hub', max_running => 1);
select pgrun.set_limit('feed', max_per_period => 1, period => '1 hour');
select id as hub_a from pgrun.add_job('h', limit_keys => array['hub']) \gset
select id as hub_b from pgrun.add_job('h', limit_keys => array['hub']) \gset
select id as feed_a from pgrun.add_job('f', limit_keys => array['feed']) \gset
select id as feed_b from pgrun.add_job('f', limit_keys => array['feed']) \gset
select id as paused from pgrun.add_job('p', limit_keys => array['provider']) \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 10, array['h', 'f'])), 2, 'one hub job and one feed job start');
select results_eq(format('select state, reason from pgrun.explain_job(%s)', :hub_b),
  $$values ('available', 'available, but limit `hub` full: 1 of 1 running')$$, 'a full limit key');
select is((select reason like 'available, but rate limit `feed` until %: 1 starts per 01:00:00 used'
                  and until > now() + interval '59 minutes'
           from pgrun.explain_job(:feed_b)), true, 'a spent rate, until its window moves');
select pgrun.pause_limit_key('provider', '10 minutes');
select results_eq(format('select reason, until from pgrun.explain_job(%s)', :paused),
  format($$values ('available, but limit key provider is paused by a RateLimited until %s', %L::timestamptz)$$,
         now() + interval '10 minutes', now() + interval '10 minutes'),
  'a RateLimited pause, until its end');
select is_empty($$select * from pgrun_tests.claim(1, 10, array['p'])$$, 'and the claim takes nothing of it');

-- TEST: fairness: limited keys take turns in a claim; a key's own order stays strict priority
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun.set_limit('tenant:*', max_running => 100);
select pgrun.add_job('t', queue_name => 'tenant:big', payload => json_build_object('n', n), priority => 0)
from generate_series(1, 50) as n;
select pgrun.add_job('t', queue_name => 'tenant:small', payload => json_build_object('n', n)) from generate_series(1, 3) as n;
select pgrun.add_job('t', queue_name => 'tenant:small', payload => '{"n": 0}', priority => -1);
select results_eq($$select j.queue_name, count(*)::integer from pgrun_tests.claim(1, 8, array['t']) as c
                    join pgrun._private_jobs as j using (id) group by 1 order by 1$$,
  $$values ('tenant:big', 4), ('tenant:small', 4)$$,
  'a claim of 8 takes turns: four of the flood, all four of the small tenant (added last)');
select results_eq($$select (payload ->> 'n')::integer from pgrun._private_jobs
                    where queue_name = 'tenant:small' and state = 'running' order by locked_at, priority, id$$,
  $$values (0), (1), (2), (3)$$, 'inside a key, strict priority then age');

-- TEST: queues without a limit keep Graphile's order (no turns)
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun_tests.add_queue('wide', 3);
select pgrun.add_job('t', queue_name => 'wide') from generate_series(1, 3);
select pgrun.add_job('t', queue_name => 'late');
select results_eq($$select j.queue_name from pgrun_tests.claim(1, 3, array['t']) as c
                    join pgrun._private_jobs as j using (id) order by j.id$$,
  $$values ('wide'), ('wide'), ('wide')$$, 'oldest first across unlimited queues, as before');

select finish();
rollback;
