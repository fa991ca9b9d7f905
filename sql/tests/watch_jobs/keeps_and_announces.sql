begin;
select plan(11);
create extension if not exists dblink;

-- TEST: the end of a watched job is announced on "pgrun:finished" with its id
-- (the helper's sessions commit; this session has not touched any row yet)
select results_eq(
  $$select channel, payload::bigint = (select last_value from pgrun._private_jobs_id_seq)
    from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.watch_jobs(array[(pgrun.add_job(''t'')).id])',
      'select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease]) from pgrun_tests.claim(1) as c'])$$,
  $$values ('pgrun:finished', true)$$,
  'a watched job that completes is announced, once, with its id');
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.watch_jobs(array[(pgrun.add_job(''t'', max_attempts => 2)).id])',
      'select pgrun.fail_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array[''boom'']) from pgrun_tests.claim(1) as c',
      'select pgrun.reschedule_jobs(array(select id from pgrun.jobs), run_at => now())',
      'select pgrun.fail_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array[''boom'']) from pgrun_tests.claim(1) as c'])
    where channel = 'pgrun:finished'$$,
  $$values ('pgrun:finished')$$,
  'a retry is not an end; the final failure is announced');
select results_eq(
  $$select channel from pgrun_tests.notifications_from(array[
      'select pgrun.watch_jobs(array[(pgrun.add_job(''t'')).id])',
      'select pgrun.complete_jobs(array(select id from pgrun.jobs))'])$$,
  $$values ('pgrun:finished')$$,
  'an admin''s complete_jobs of a watched job is announced too');
select is_empty(
  $$select from pgrun_tests.notifications_from(array[
      'select pgrun_tests.register(1)',
      'select pgrun.add_job(''t'')',
      'select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease]) from pgrun_tests.claim(1) as c'])
    where channel = 'pgrun:finished'$$,
  'a job nobody watches ends silently');

-- TEST: a watched job is kept at least 10 minutes, so its result can be read
select pgrun_tests.reset();
select pgrun_tests.register(1);
select id as job_id from pgrun.add_job('t') \gset
select pgrun.watch_jobs(array[:job_id]::bigint[]);
select is((select count(*)::integer from pgrun._private_job_waiters where job_id = :job_id), 1, 'the waiter is recorded');
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array['"done"'::jsonb])
from pgrun_tests.claim(1) as c;
select results_eq(format('select state, result, keep_until from pgrun.jobs where id = %s', :job_id),
  $$values ('completed', '"done"'::jsonb, now() + interval '10 minutes')$$,
  'without retention a watched completed job stays 10 minutes, with its result');
select id as failed_id from pgrun.add_job('t', max_attempts => 1) \gset
select pgrun.watch_jobs(array[:failed_id]::bigint[]);
select pgrun.fail_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array['boom']) from pgrun_tests.claim(1) as c;
select results_eq(format('select state, keep_until from pgrun.jobs where id = %s', :failed_id),
  $$values ('failed', null::timestamptz)$$,
  'a watched failed job is still kept until removed: the longer of the two wins');

-- TEST: a longer retention wins over the 10 minutes
select pgrun.set_retention(interval '1 day', null, null);
select id as kept_id from pgrun.add_job('t') \gset
select pgrun.watch_jobs(array[:kept_id]::bigint[]);
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease]) from pgrun_tests.claim(1) as c;
select is((select keep_until from pgrun.jobs where id = :kept_id), now() + interval '1 day', 'kept for the day');

-- TEST: unwatch_jobs forgets the waiter; the job then follows retention alone
select pgrun.remove_retention();
select id as gone_id from pgrun.add_job('t') \gset
select pgrun.watch_jobs(array[:gone_id, :gone_id]::bigint[]);
select pgrun.unwatch_jobs(array[:gone_id]::bigint[]);
select is_empty(format('select from pgrun._private_job_waiters where job_id = %s', :gone_id), 'both waits are forgotten');
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease]) from pgrun_tests.claim(1) as c;
select is_empty(format('select from pgrun.jobs where id = %s', :gone_id), 'the unwatched job leaves at once');

-- TEST: maintain forgets waiters that never said goodbye, after a day
select pgrun.maintain(now => now() + interval '25 hours');
select is_empty($$select from pgrun._private_job_waiters$$, 'a day later no waiter is left');

select finish();
rollback;
