begin;
select plan(9);
select pgrun_tests.reset();

-- TEST: a bad spec is refused with add_job's message, prefixed by its position
select throws_ok(
  $$select pgrun.add_jobs(array[
      row('ok.task', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row(null, null, null, null, null, null, null, null, null, null)::pgrun.job_spec])$$,
  '22023', 'specs[2]: task identifier must not be null or empty', 'a null identifier names its spec');
select throws_ok(
  $$select pgrun.add_jobs(array[row('', null, null, null, null, null, null, null, null, null)::pgrun.job_spec])$$,
  '22023', 'specs[1]: task identifier must not be null or empty', 'an empty identifier names its spec');
select throws_ok(
  format($$select pgrun.add_jobs(array[
      row('ok.task', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row('ok.task', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row(%L, null, null, null, null, null, null, null, null, null)::pgrun.job_spec])$$, repeat('t', 129)),
  '22023', 'specs[3]: task identifier is 129 characters long; the limit is 128', 'a long identifier names its spec');
select throws_ok(
  format($$select pgrun.add_jobs(array[
      row('ok.task', null, %L, null, null, null, null, null, null, null)::pgrun.job_spec])$$, repeat('q', 129)),
  '22023', 'specs[1]: queue name is 129 characters long; the limit is 128', 'a long queue name names its spec');
select throws_ok(
  $$select pgrun.add_jobs(array[
      row('ok.task', null, null, null, null, 'k', null, null, null, null)::pgrun.job_spec,
      row('ok.task', null, null, null, null, '', null, null, null, null)::pgrun.job_spec])$$,
  '22023', 'specs[2]: job_key must not be empty (use null for no key)', 'an empty key names its spec');
select throws_ok(
  format($$select pgrun.add_jobs(array[
      row('ok.task', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row('ok.task', null, null, null, null, %L, null, null, null, null)::pgrun.job_spec])$$, repeat('k', 513)),
  '22023', 'specs[2]: job_key is 513 characters long; the limit is 512', 'a long key names its spec');
select throws_ok(
  $$select pgrun.add_jobs(array[
      row('ok.task', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row('ok.task', null, null, null, 0, null, null, null, null, null)::pgrun.job_spec])$$,
  '22023', 'specs[2]: max_attempts must be between 1 and 32767 (got 0)', 'max_attempts 0 names its spec');

-- TEST: of several bad specs the first one is named
select throws_ok(
  $$select pgrun.add_jobs(array[
      row('ok.task', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
      row('ok.task', null, null, null, 0, null, null, null, null, null)::pgrun.job_spec,
      row(null, null, null, null, null, null, null, null, null, null)::pgrun.job_spec])$$,
  '22023', 'specs[2]: max_attempts must be between 1 and 32767 (got 0)', 'the earliest bad spec is reported');

-- TEST: a refused call stores nothing, not even its good specs
select is((select count(*)::integer from pgrun.jobs), 0, 'no job was stored');

select finish();
rollback;
