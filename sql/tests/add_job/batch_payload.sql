begin;
select plan(7);
select pgrun_tests.reset();

-- TEST: a keyed job whose payload is an array collects later array payloads (batch jobs)
select pgrun.add_job('emails.digest', '[{"id": 1}]', job_key => 'digest');
select is((pgrun.add_job('emails.digest', '[{"id": 2}, {"id": 3}]', job_key => 'digest')).payload::jsonb,
  '[{"id": 1}, {"id": 2}, {"id": 3}]'::jsonb, 'the new array is appended to the old one');
select is((pgrun.add_job('emails.digest', '[]', job_key => 'digest')).payload::jsonb,
  '[{"id": 1}, {"id": 2}, {"id": 3}]'::jsonb, 'an empty array appends nothing');
select is((select revision from pgrun.jobs where key = 'digest'), 2, 'each append is a revision');

-- TEST: an object payload replaces an array payload, and an array replaces an object
select is((pgrun.add_job('emails.digest', '{"reset": true}', job_key => 'digest')).payload::jsonb,
  '{"reset": true}'::jsonb, 'array then object: the object replaces');
select is((pgrun.add_job('emails.digest', '[{"id": 4}]', job_key => 'digest')).payload::jsonb,
  '[{"id": 4}]'::jsonb, 'object then array: the array replaces');

-- TEST: a running batch job is not appended to; the new array starts a fresh job
select is((pgrun.get_job(pgrun_tests.worker(1))).payload::jsonb, '[{"id": 4}]'::jsonb,
  'setup: worker 1 claims the batch job');
select is((pgrun.add_job('emails.digest', '[{"id": 5}]', job_key => 'digest')).payload::jsonb,
  '[{"id": 5}]'::jsonb, 'the fresh job holds only the new array');

select finish();
rollback;
