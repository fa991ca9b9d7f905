begin;
select plan(17);
select pgrun_tests.reset();
select pgrun_tests.register(n) from generate_series(1, 2) as n;

-- TEST: without a rule, a failed job leaves no dead letter
select id as a_id from pgrun.add_job('t', max_attempts => 1) \gset
select lease as a_lease from pgrun_tests.claim(1) \gset
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:a_id]::bigint[], array[:a_lease]::bigint[],
                                                    array['no rule'])), 'failed', 'a fails');
select results_eq(format('select dead_letter_job_id from pgrun.jobs where id = %s', :a_id), $$values (null::bigint)$$,
  'no rule: no dead letter');

-- TEST: the last attempt failed: a job of the dead-letter task carries the whole dead job
select pgrun.set_dead_letter('dlq');
select id as b_id from pgrun.add_job('t', '{"n": 1}', queue_name => 'q', max_attempts => 2, job_key => 'kb',
                                     flags => array['f']) \gset
select lease as b_lease from pgrun_tests.claim(1) \gset
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:b_id]::bigint[], array[:b_lease]::bigint[],
                                                    array['first'])), 'retryable', 'b''s first failure is retried');
select is((select count(*)::integer from pgrun.jobs where task_identifier = 'dlq'), 0, 'a retry leaves no dead letter');
select pgrun.record_heartbeat(pgrun_tests.worker(1), now => now() + interval '5 seconds');
select lease as b_lease from pgrun_tests.claim(1, now => now() + interval '5 seconds') \gset
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:b_id]::bigint[], array[:b_lease]::bigint[],
                                                    array['second'])), 'failed', 'b''s second and last failure ends it');
select dead_letter_job_id as b_letter from pgrun.jobs where id = :b_id \gset
select results_eq(
  format($$select task_identifier, state, queue_name, payload -> 'dead_job' ->> 'id', payload -> 'dead_job' ->> 'last_error',
                  jsonb_array_length(payload -> 'dead_job' -> 'errors'), payload -> 'dead_job' -> 'payload',
                  payload -> 'dead_job' ->> 'key', payload -> 'dead_job' -> 'flags', payload -> 'dead_job' ->> 'queue_name',
                  (payload -> 'dead_job' ->> 'attempts')::integer, (payload -> 'dead_job' ->> 'max_attempts')::integer,
                  payload -> 'dead_job' ? 'created_at'
           from pgrun.jobs where id = %s$$, :b_letter),
  format($$values ('dlq', 'available', null::text, '%s', 'second', 2, '{"n": 1}'::jsonb, 'kb', '{"f": true}'::jsonb, 'q', 2, 2, true)$$, :b_id),
  'the dead letter: a dlq job, available, with the dead job''s id, errors (both), payload, key, flags, queue, attempts');

-- TEST: a permanent failure leaves a dead letter
select id as c_id from pgrun.add_job('t', max_attempts => 5) \gset
select lease as c_lease from pgrun_tests.claim(2, 1, array['t']) \gset
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(2), array[:c_id]::bigint[], array[:c_lease]::bigint[],
                                                    array['bad input'], array[true])), 'failed', 'c fails permanently');
select isnt((select dead_letter_job_id from pgrun.jobs where id = :c_id), null::bigint, 'and leaves a dead letter');

-- TEST: released on its last attempt after its worker died: a dead letter
select id as d_id from pgrun.add_job('t', max_attempts => 1) \gset
select from pgrun_tests.claim(2, 1, array['t']);
select pgrun.force_unlock_workers(array[pgrun_tests.worker(2)]);
select results_eq(format($$select j.state, l.task_identifier, l.payload -> 'dead_job' ->> 'id'
                           from pgrun.jobs as j join pgrun.jobs as l on l.id = j.dead_letter_job_id where j.id = %s$$, :d_id),
  format($$values ('failed', 'dlq', '%s')$$, :d_id), 'd, released on its last attempt, failed and left a dead letter');

-- TEST: permanently_fail_jobs leaves a dead letter
select id as e_id from pgrun.add_job('t') \gset
select is((select dead_letter_job_id is not null from pgrun.permanently_fail_jobs(array[:e_id]::bigint[], 'by hand')),
  true, 'permanently_fail_jobs answers the job with its dead letter');
select results_eq(format($$select l.task_identifier, l.payload -> 'dead_job' ->> 'last_error'
                           from pgrun.jobs as j join pgrun.jobs as l on l.id = j.dead_letter_job_id where j.id = %s$$, :e_id),
  $$values ('dlq', 'by hand')$$, 'a job failed by hand leaves a dead letter with the admin''s message');

-- TEST: a dead letter's own job never dead-letters (no loops, no chains)
select pgrun.set_dead_letter('dlq2', task_identifier => 'dlq');
select id as f_id from pgrun.jobs where id = :b_letter \gset
delete from pgrun._private_jobs where task_identifier = 'dlq' and id <> :f_id;
select from pgrun_tests.claim(1, 1, array['dlq'], now() + interval '5 seconds');
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:f_id]::bigint[],
                                                    array[pgrun_tests.lease(:f_id)], array['dlq broke'], array[true])),
  'failed', 'the dead-letter job fails for good');
select results_eq(format('select dead_letter_job_id from pgrun.jobs where id = %s', :f_id), $$values (null::bigint)$$,
  'a dlq job leaves no dead letter, even with a rule naming its task');
select is((select count(*)::integer from pgrun.jobs where task_identifier in ('dlq', 'dlq2') and id <> :f_id), 0,
  'no new dead-letter job');

-- TEST: a failed job that retention drops at once still leaves its dead letter
select pgrun.set_retention(null, interval '0', null);
select id as g_id from pgrun.add_job('t', max_attempts => 1) \gset
select lease as g_lease from pgrun_tests.claim(1, 1, array['t'], now() + interval '5 seconds') \gset
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:g_id]::bigint[], array[:g_lease]::bigint[],
                                                    array['gone'])), 'failed', 'g fails');
select is_empty(format('select from pgrun.jobs where id = %s', :g_id), 'g is gone at once');
select is((select payload -> 'dead_job' ->> 'last_error' from pgrun.jobs
           where task_identifier = 'dlq' and (payload -> 'dead_job' ->> 'id')::bigint = :g_id), 'gone',
  'its dead letter stays');

select finish();
rollback;
