begin;
select plan(20);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- Hint mode (0185_claim_hints.sql), forced by its settings
select pgrun_tests.force_claim_hints();

-- SETUP: 500 jobs of task t, in id order (same priority and run_at)
insert into pgrun._private_jobs (task_identifier, state, run_at)
select 't', 'available', now() - interval '1 hour' from generate_series(1, 500);
select min(id) as first_id from pgrun._private_jobs \gset

-- One claim of task t: the jobs it took and how many jobs_available entries it read (from
-- this transaction's statistics).
create function pg_temp.claim_reading(max_jobs integer, out ids bigint[], out entries bigint)
language plpgsql as $$
declare
  v_before bigint := pg_stat_get_xact_tuples_returned('pgrun.jobs_available'::regclass);
begin
  ids := array(select c.id from pgrun_tests.claim(1, claim_reading.max_jobs, array['t']) as c);
  entries := pg_stat_get_xact_tuples_returned('pgrun.jobs_available'::regclass) - v_before;
end;
$$;
-- The id in this session's hint (null: none).
create function pg_temp.hint_id() returns bigint language sql as $$
  select (current_setting('pgrun.claim_hint', true)::jsonb -> 'pgrun.t' ->> 2)::bigint;
$$;

-- TEST: a scan from the start that is slow enters hint mode, the hint being the last job claimed
select is((select count(*) from pgrun_tests.claim(1, 400, array['t'])), 400::bigint, 'the first claim takes 400 jobs');
select isnt(current_setting('pgrun.claim_slow_since', true), '', 'the slow scan put the session in hint mode');
select is(pg_temp.hint_id(), :first_id + 399::bigint, 'the hint is the last job claimed');

-- TEST: the next scan starts at the hint: the 400 entries of the jobs claimed
-- (their rows still visible to a snapshot, this transaction's) are not read
select * from pg_temp.claim_reading(1) \gset hinted_
select is(:'hinted_ids'::bigint[], array[:first_id + 400::bigint], 'the hinted claim takes the next job');
select cmp_ok(:hinted_entries::bigint, '<', 5::bigint,
  'the hinted scan read a handful of index entries, not the 400 before the hint');

-- TEST: once the refresh is due, the scan starts from the start and reads them
update pgrun._private_settings set value = '0' where name = 'claim_hint_refresh';
select * from pg_temp.claim_reading(1) \gset refresh_
select is(:'refresh_ids'::bigint[], array[:first_id + 401::bigint], 'the refreshing claim takes the next job too');
select cmp_ok(:refresh_entries::bigint, '>=', 401::bigint,
  'the scan from the start read the entries of every job claimed');
update pgrun._private_settings set value = '1 hour' where name = 'claim_hint_refresh';

-- TEST: a job of a better priority and one of an earlier run_at, added behind
-- the hint, wait while the hinted scan finds enough
select id as better_id from pgrun.add_job('t', priority => -1) \gset
select id as earlier_id from pgrun.add_job('t', run_at => now() - interval '2 hours') \gset
select is((select array_agg(id) from pgrun_tests.claim(1, 2, array['t'])),
  array[:first_id + 402::bigint, :first_id + 403],
  'a hinted claim that finds enough after the hint takes those jobs');

-- TEST: ...and are taken once the refresh is due, in strict order
update pgrun._private_settings set value = '0' where name = 'claim_hint_refresh';
select is((select array_agg(id) from pgrun_tests.claim(1, 2, array['t'])), array[:better_id, :earlier_id]::bigint[],
  'the refreshing claim takes the better priority first, then the earlier run_at');
update pgrun._private_settings set value = '1 hour' where name = 'claim_hint_refresh';

-- TEST: a hinted scan that comes back short scans from the start at once
select id as best_id from pgrun.add_job('t', priority => -2) \gset
select results_eq($$select id from pgrun_tests.claim(1, 1000, array['t']) limit 2$$,
  format('values (%s::bigint), (%s)', :best_id, :first_id + 404),
  'a short hinted claim also takes the job behind the hint, in order');
select is((select count(*) from pgrun.jobs where state = 'available'), 0::bigint, 'every job is claimed');

-- TEST: a hint is for its own task: another task's jobs are all found
select id from pgrun.add_job('u', priority => 5);
select id as u_best_id from pgrun.add_job('u', priority => -3) \gset
select isnt(pg_temp.hint_id(), null, 'the session has a hint (of task t)');
select is((select array_agg(id) from pgrun_tests.claim(1, 1, array['u'])), array[:u_best_id]::bigint[],
  'a claim of task u takes its best job, before the key of the hint of t');

-- TEST: several tasks: strict order, in hint mode too
select id as v_id from pgrun.add_job('v', priority => -4) \gset
select is((select array_agg(id) from pgrun_tests.claim(1, 1, array['u', 'v'])), array[:v_id]::bigint[],
  'a claim of several tasks takes the best job of them');

-- TEST: the hint rolls back with the claim
insert into pgrun._private_jobs (task_identifier, state, run_at)
select 't', 'available', now() from generate_series(1, 5);
select pgrun_tests.claim(1, 1, array['t']);
select pg_temp.hint_id() as hint_before \gset
savepoint before_claim;
select pgrun_tests.claim(1, 2, array['t']);
select isnt(pg_temp.hint_id(), :hint_before::bigint, 'a claim moves the hint');
rollback to savepoint before_claim;
select is(pg_temp.hint_id(), :hint_before::bigint, 'a claim that rolls back leaves the hint where it was');

-- TEST: a hint or a start time that is not one of ours is ignored
select set_config('pgrun.claim_hint', 'not a hint', false);
select is((select count(*) from pgrun_tests.claim(1, 1, array['t'])), 1::bigint, 'a claim with a garbled hint works');
select set_config('pgrun.claim_slow_since', 'yesterday', false);
select is((select count(*) from pgrun_tests.claim(1, 1, array['t'])), 1::bigint,
  'a claim with a garbled start time works');

-- TEST: normal mode: a fast scan from the start leaves hint mode, and the order is strict
update pgrun._private_settings set value = '1000000' where name = 'claim_hint_after_entries';
update pgrun._private_settings set value = '0' where name = 'claim_hint_refresh';
select pgrun_tests.claim(1, 1, array['t']);
select is(current_setting('pgrun.claim_slow_since', true), '', 'a fast scan from the start left hint mode');
select id as late_better_id from pgrun.add_job('t', priority => -1) \gset
select is((select array_agg(id) from pgrun_tests.claim(1, 1, array['t'])), array[:late_better_id]::bigint[],
  'out of hint mode, a job of a better priority is claimed first');

select finish();
rollback;
