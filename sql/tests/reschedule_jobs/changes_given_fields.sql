begin;
select plan(7);
select pgrun_tests.reset();

-- SETUP: two jobs, both retried twice
select id as a_id from pgrun.add_job('t', run_at => now() + interval '1 hour', max_attempts => 5, priority => 3) \gset
select id as b_id from pgrun.add_job('t', run_at => now() + interval '2 hours', max_attempts => 6, priority => 4) \gset
update pgrun._private_jobs set attempts = 2, updated_at = now() - interval '1 minute';

-- TEST: only the fields given change
select results_eq(
  format($$select id, run_at, priority, attempts, max_attempts
           from pgrun.reschedule_jobs(array[%s, %s]::bigint[], run_at => now() + interval '5 minutes') order by id$$,
         :a_id, :b_id),
  format($$values (%s::bigint, now() + interval '5 minutes', 3::smallint, 2::smallint, 5::smallint),
                  (%s, now() + interval '5 minutes', 4::smallint, 2::smallint, 6::smallint)$$, :a_id, :b_id),
  'run_at alone: both jobs move, nothing else changes');
select results_eq(
  format('select run_at, priority, attempts, max_attempts from pgrun.reschedule_jobs(array[%s]::bigint[],
            priority => -1, attempts => 0, max_attempts => 9)', :a_id),
  $$values (now() + interval '5 minutes', -1::smallint, 0::smallint, 9::smallint)$$,
  'priority, attempts and max_attempts: run_at stays');
select is((select updated_at from pgrun.jobs where id = :b_id), now(), 'updated_at is refreshed');
select is_empty($$select from pgrun.reschedule_jobs(array[-1]::bigint[], priority => 1)$$,
  'an unknown id returns nothing');

-- TEST: bad values are refused
select throws_ok(format('select pgrun.reschedule_jobs(array[%s]::bigint[], max_attempts => 0)', :a_id),
  '22023', 'max_attempts must be between 1 and 32767 (got 0)', 'max_attempts 0 is refused');
select throws_ok(format('select pgrun.reschedule_jobs(array[%s]::bigint[], attempts => -1)', :a_id),
  '22023', 'attempts must be between 0 and 32767 (got -1)', 'negative attempts are refused');
select throws_ok(format('select pgrun.reschedule_jobs(array[%s]::bigint[], priority => 40000)', :a_id),
  '22023', 'priority must be between -32768 and 32767 (got 40000)', 'priority out of smallint is refused');

select finish();
rollback;
