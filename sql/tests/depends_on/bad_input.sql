begin;
select plan(12);
select pgrun_tests.reset();
select pgrun_tests.register(1);

select id as live from pgrun.add_job('t') \gset
select id as failed from pgrun.add_job('t', max_attempts => 1) \gset
select from pgrun.permanently_fail_jobs(array[:failed]::bigint[]);

-- TEST: add_job refuses what could never run, with clear words
select throws_ok(format('select pgrun.add_job(%L, depends_on => array[%s, 987654321])', 't', :live), '23503',
  'depends_on: no job 987654321 (never added, or it finished and retention removed it)',
  'an unknown parent is refused');
select throws_ok(format('select pgrun.add_job(%L, depends_on => array[%s, null])', 't', :live), '22004',
  'depends_on must not contain null', 'a null parent is refused');
select throws_ok(format('select pgrun.add_job(%L, depends_on => array[%s])', 't', :failed), '55000',
  format('depends_on: job %s has already ended failed; a job that depends on it could never run', :failed),
  'a parent that already failed is refused');
select throws_ok(format('select pgrun.add_job(%L, job_key => %L, depends_on => array[%s])', 't', 'k', :live), '0A000',
  'depends_on cannot be combined with job_key', 'depends_on with a job_key is refused');
select is((select count(*) from pgrun.jobs), 2::bigint, 'nothing was added');
select lives_ok($$select pgrun.add_job('t', depends_on => '{}')$$, 'an empty depends_on is no dependency');
select is((select state from pgrun.jobs order by id desc limit 1), 'available', 'and that job is available');

-- TEST: add_jobs refuses references it cannot resolve, and cycles
select throws_ok($$select pgrun.add_jobs(array[
    row('a', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
    row('b', null, null, null, null, null, null, null, array[-3], null)::pgrun.job_spec])$$, '22023',
  'add_jobs: specs[2]: depends_on refers to spec 3 of this call, which has 2 specs (-k names spec k)',
  'a reference past the last spec is refused');
select throws_ok($$select pgrun.add_jobs(array[row('a', null, null, null, null, null, null, null, array[0], null)::pgrun.job_spec])$$,
  '22023', 'add_jobs: depends_on must not contain 0 (ids are positive; -k names spec k of the call)', '0 is refused');
select throws_ok($$select pgrun.add_jobs(array[
    row('a', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
    row('b', null, null, null, null, null, null, null, array[-1, -4], null)::pgrun.job_spec,
    row('c', null, null, null, null, null, null, null, array[-2], null)::pgrun.job_spec,
    row('d', null, null, null, null, null, null, null, array[-3], null)::pgrun.job_spec])$$, '22023',
  'add_jobs: depends_on makes a cycle: specs 2, 3, 4 wait for one another', 'a cycle is refused, naming its specs');
select throws_ok($$select pgrun.add_jobs(array[row('a', null, null, null, null, null, null, null, array[-1], null)::pgrun.job_spec])$$,
  '22023', 'add_jobs: depends_on makes a cycle: specs 1 wait for one another', 'a spec that depends on itself is a cycle');
select throws_ok($$select pgrun.add_jobs(array[
    row('a', null, null, null, null, 'k', null, null, null, null)::pgrun.job_spec,
    row('b', null, null, null, null, null, null, null, array[-1], null)::pgrun.job_spec])$$, '0A000',
  'add_jobs: job_key cannot be combined with depends_on in one call', 'keys in a graph call are refused');

select finish();
rollback;
