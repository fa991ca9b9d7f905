begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: an enqueue-only role, and a job it did not add
create role pgrun_test_dep_web;
select pgrun.grant_enqueue('pgrun_test_dep_web');
select id as foreign_job from pgrun.add_job('t') \gset
set local role pgrun_test_dep_web;
select id as own from pgrun.add_job('t') \gset

-- TEST: a restricted role depends only on its own jobs, by id
select is((pgrun.add_job('t', depends_on => array[:own])).state, 'blocked', 'it may depend on a job it added');
select throws_ok(format('select pgrun.add_job(%L, depends_on => array[%s])', 't', :foreign_job), '42501',
  format('depends_on: job %s was not added by this role', :foreign_job), 'not on another''s');
select lives_ok(format($$select pgrun.add_jobs(array[row('t', null, null, null, null, null, null, null, array[%s], null)::pgrun.job_spec])$$, :own),
  'add_jobs with an id of its own works');
select throws_ok($$select pgrun.add_jobs(array[row('t', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
                                               row('t', null, null, null, null, null, null, null, array[-1], null)::pgrun.job_spec])$$,
  '0A000', 'a role with a restricted enqueue grant cannot name other specs in depends_on; add the parents first and pass their ids',
  'references between specs are refused');
reset role;
select is((select count(*)::integer from pgrun._private_job_dependencies), 2, 'two links were made');

select finish();
rollback;
