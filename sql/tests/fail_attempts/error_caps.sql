begin;
select plan(9);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- Fails job_id's current attempt with message, then makes it due again.
create function pg_temp.fail_once(job_id bigint, message text) returns void language sql as $$
  select pgrun.fail_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease], array[message])
  from pgrun_tests.claim(1, 1) as c;
  select pgrun.reschedule_jobs(array[job_id], run_at => now());
$$;

-- SETUP: keep 3 history entries of at most 50 characters, last_error at most 60
update pgrun._private_settings set value = '3' where name = 'error_history_length';
update pgrun._private_settings set value = '50' where name = 'error_entry_max_chars';
update pgrun._private_settings set value = '60' where name = 'last_error_max_chars';
select id as job_id from pgrun.add_job('t', max_attempts => 10) \gset

-- TEST: the errors history keeps only the last error_history_length attempts
select pg_temp.fail_once(:job_id, 'error ' || n) from generate_series(1, 5) as n;
select results_eq(
  format($$select e ->> 'attempt', e ->> 'error' from pgrun.jobs, jsonb_array_elements(errors) as e
           where id = %s$$, :job_id),
  $$values ('3', 'error 3'), ('4', 'error 4'), ('5', 'error 5')$$,
  'five failures, three entries: attempts 3, 4 and 5, oldest first');
select is((select last_error from pgrun.jobs where id = :job_id), 'error 5', 'last_error is the latest');

-- TEST: a long message is cut, and says so, in the history and in last_error
select pg_temp.fail_once(:job_id, repeat('x', 100));
select is((select errors -> -1 ->> 'error' from pgrun.jobs where id = :job_id),
  repeat('x', 10) || E'\n... [90 characters cut]', 'the history entry is cut to error_entry_max_chars');
select cmp_ok((select length(errors -> -1 ->> 'error') from pgrun.jobs where id = :job_id), '<=', 50,
  'and fits in them');
select is((select last_error from pgrun.jobs where id = :job_id),
  repeat('x', 20) || E'\n... [80 characters cut]', 'last_error is cut at last_error_max_chars');
select is((select jsonb_array_length(errors) from pgrun.jobs where id = :job_id), 3, 'still three entries');

-- TEST: a missing or empty message is recorded as such
select pg_temp.fail_once(:job_id, null);
select is((select last_error from pgrun.jobs where id = :job_id), 'error (no message given)',
  'a null message becomes ''error (no message given)''');
select pg_temp.fail_once(:job_id, '');
select is((select errors -> -1 ->> 'error' from pgrun.jobs where id = :job_id), 'error (no message given)',
  'so does an empty one, in the history too');

-- TEST: by default the last 10 attempts are kept
update pgrun._private_settings set value = '10' where name = 'error_history_length';
select id as long_id from pgrun.add_job('t', max_attempts => 20, priority => -1) \gset
select pg_temp.fail_once(:long_id, 'again') from generate_series(1, 12);
select is((select jsonb_array_length(errors) from pgrun.jobs where id = :long_id), 10,
  'twelve failures keep ten entries');

select finish();
rollback;
