begin;
select plan(7);
select pgrun_tests.reset();

-- TEST: the default cap is 1 MB
select is(pgrun._setting('payload_max_bytes'), '1048576', 'payload_max_bytes defaults to 1048576');

-- SETUP: a cap of 100 bytes
update pgrun._private_settings set value = '100' where name = 'payload_max_bytes';

-- TEST: a payload over the cap is refused with SQLSTATE 54000, naming the setting
select throws_ok(format('select pgrun.add_job(%L, %L::json)', 't', json_build_object('data', repeat('x', 100))),
  '54000', 'payload is 113 bytes; the limit is 100 (setting payload_max_bytes)', 'add_job refuses 113 bytes');
select lives_ok(format('select pgrun.add_job(%L, %L::json)', 't', json_build_object('data', repeat('x', 87))),
  'exactly 100 bytes are accepted');
select throws_ok(
  format($$select pgrun.add_jobs(array[row('t', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
                                       row('t', %L, null, null, null, null, null, null, null, null)::pgrun.job_spec])$$,
         json_build_object('data', repeat('x', 100))),
  '54000', 'specs[2]: payload is 113 bytes; the limit is 100 (setting payload_max_bytes)',
  'add_jobs names the spec over the cap');
select throws_ok(
  format($$select pgrun.add_jobs(array[row('t', %L, null, null, null, 'k', null, null, null, null)::pgrun.job_spec])$$,
         json_build_object('data', repeat('x', 100))),
  '54000', 'specs[1]: payload is 113 bytes; the limit is 100 (setting payload_max_bytes)',
  'on the keyed path too');
select throws_ok(format('select pgrun.cron_enqueue_tick(%L, %L, false, %L, %L::json)', 'item',
                        date_trunc('minute', now()), 't', json_build_object('data', repeat('x', 100))),
  '54000', 'payload is 178 bytes; the limit is 100 (setting payload_max_bytes)', 'and through cron');

-- TEST: nothing over the cap was stored
select is((select count(*)::integer from pgrun.jobs), 1, 'only the job at the cap exists');

select finish();
rollback;
