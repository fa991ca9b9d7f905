begin;
select plan(8);
select pgrun_tests.reset();
select pgrun_tests.register(1);
select id as job from pgrun.add_job('t', max_attempts => 3) \gset
select from pgrun_tests.claim(1, 1);

-- TEST: the attempt that holds the job records its steps; the first record of a name stays
select ok(pgrun.record_job_step(pgrun_tests.worker(1), :job, pgrun_tests.lease(:job), 'charge', '{"id": "ch_1"}'),
  'a step is recorded');
select ok(pgrun.record_job_step(pgrun_tests.worker(1), :job, pgrun_tests.lease(:job), 'charge', '{"id": "ch_2"}'),
  'a second record of the same name is accepted');
select ok(pgrun.record_job_step(pgrun_tests.worker(1), :job, pgrun_tests.lease(:job), 'nothing', null),
  'a step that returned nothing');
select results_eq(format('select name, result from pgrun.job_steps(%s)', :job),
  $$values ('charge', '{"id": "ch_1"}'::jsonb), ('nothing', 'null'::jsonb)$$, 'the first record stays');

-- TEST: a later attempt reads them; an attempt that lost the job records nothing
select pgrun_tests.lease(:job) as old_lease \gset
select from pgrun.fail_attempts(pgrun_tests.worker(1), array[:job]::bigint[], array[:old_lease]::bigint[], array['x'], null,
                                array[interval '0']);
select ok(not pgrun.record_job_step(pgrun_tests.worker(1), :job, :old_lease, 'late', '1'),
  'the attempt that ended cannot record');
select is((select count(*) from pgrun.job_steps(:job)), 2::bigint, 'the retried job still has its two steps');

-- TEST: bad input
select throws_ok(format($$select pgrun.record_job_step(%L, %s, 1, '', null)$$, pgrun_tests.worker(1), :job), '22023',
  'a step name must have 1 to 200 characters', 'an empty step name is refused');

-- TEST: maintain forgets the steps of jobs that ended
select from pgrun.complete_jobs(array[:job]::bigint[]);
select from pgrun.maintain();
select is((select count(*) from pgrun._private_job_steps), 0::bigint, 'maintain forgot them');

select finish();
rollback;
