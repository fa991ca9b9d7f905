begin;
select plan(7);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- Hint mode (0185_claim_hints.sql) in a claim of several tasks, forced by its
-- settings: each task's probe starts at its own hint.
select pgrun_tests.force_claim_hints();

-- SETUP: 300 jobs of task a, then 300 of task b (same priority and run_at: id order)
insert into pgrun._private_jobs (task_identifier, state, run_at)
select 'a', 'available', now() - interval '1 hour' from generate_series(1, 300);
insert into pgrun._private_jobs (task_identifier, state, run_at)
select 'b', 'available', now() - interval '1 hour' from generate_series(1, 300);
select min(id) as b_first from pgrun._private_jobs where task_identifier = 'b' \gset

-- One claim of tasks a and b: the jobs it took and how many jobs_available entries it read.
create function pg_temp.claim_reading(max_jobs integer, out ids bigint[], out entries bigint)
language plpgsql as $$
declare
  v_before bigint := pg_stat_get_xact_tuples_returned('pgrun.jobs_available'::regclass);
begin
  ids := array(select c.id from pgrun_tests.claim(1, claim_reading.max_jobs, array['a', 'b']) as c);
  entries := pg_stat_get_xact_tuples_returned('pgrun.jobs_available'::regclass) - v_before;
end;
$$;

-- TEST: a claim from the start takes every job of a and the first 100 of b, and leaves a hint for each
select is((select cardinality(ids) from pg_temp.claim_reading(400)), 400, 'the first claim takes 400 jobs');
select is((select array_agg(k order by k) from jsonb_object_keys(current_setting('pgrun.claim_hint')::jsonb) as k),
  array['pgrun.a', 'pgrun.b'], 'the session has a hint for each task');

-- TEST: the next probes start at the hints: the 400 entries before them are not read
select * from pg_temp.claim_reading(2) \gset hinted_
select is(:'hinted_ids'::bigint[], array[:b_first + 100::bigint, :b_first + 101],
  'the hinted claim takes the next jobs of b');
select cmp_ok(:hinted_entries::bigint, '<', 20::bigint,
  'the hinted probes read a handful of index entries, not the 400 before the hints');

-- TEST: a job of a better priority behind a's hint waits while b's probe finds enough...
select id as better_id from pgrun.add_job('a', priority => -1) \gset
select is((select ids from pg_temp.claim_reading(2)), array[:b_first + 102::bigint, :b_first + 103],
  'a hinted claim that finds enough after the hints takes those jobs');

-- TEST: ...and is taken first once the hinted probes come back short
select is((select ids[1] from pg_temp.claim_reading(1000)), :better_id::bigint,
  'a short hinted claim scans from the start and takes the better job first');
select is((select count(*) from pgrun.jobs where state = 'available'), 0::bigint, 'every job is claimed');

select finish();
rollback;
