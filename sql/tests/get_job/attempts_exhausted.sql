begin;
select plan(4);
select pgrun_tests.reset();

-- SETUP: a job that used all its attempts, in and out of a named queue, and one with an attempt left
select id as used_id from pgrun.add_job('t', max_attempts => 2) \gset
select id as queued_used_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 2) \gset
select id as left_id from pgrun.add_job('t', max_attempts => 2, run_at => now() + interval '1 minute') \gset
select pgrun.reschedule_jobs(array[:used_id, :queued_used_id]::bigint[], attempts => 2);
select pgrun.reschedule_jobs(array[:left_id]::bigint[], attempts => 1);

-- TEST: a job with attempts >= max_attempts is never claimed
select ok((pgrun.get_job(pgrun_tests.worker(1))).id is null, 'jobs without attempts left are skipped');
select is((pgrun.get_job(pgrun_tests.worker(1), now => now() + interval '1 year')).id, :left_id::bigint,
  'a year later only the job with an attempt left is claimed');
select ok((pgrun.get_job(pgrun_tests.worker(2), now => now() + interval '1 year')).id is null,
  'and nothing after it');

-- TEST: a job whose attempts exceed max_attempts (max lowered later) is skipped too
select pgrun.reschedule_jobs(array[:used_id]::bigint[], max_attempts => 1);
select ok((pgrun.get_job(pgrun_tests.worker(2), now => now() + interval '1 year')).id is null,
  'attempts above max_attempts are skipped');

select finish();
rollback;
