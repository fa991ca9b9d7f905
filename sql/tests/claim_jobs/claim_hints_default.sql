begin;
select plan(4);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- Hint mode by the default threshold (claim_hint_after_entries, 1000): a scan
-- from the start enters it only when it steps over more than 1000 index
-- entries it does not lock. In one transaction the entries of the jobs it
-- claimed stay (their rows are visible to a snapshot, its own), as every
-- claimed job's do under a pinned xmin horizon.
insert into pgrun._private_jobs (task_identifier, state, run_at)
select 't', 'available', now() - interval '1 hour' from generate_series(1, 1200);

-- TEST: normal operation: a claim steps over nothing and uses no hint
select is((select count(*) from pgrun_tests.claim(1, 1000, array['t'])), 1000::bigint, 'a claim of 1000 jobs');
select is(coalesce(current_setting('pgrun.claim_slow_since', true), ''), '', 'a scan that stepped over nothing uses no hint');

-- TEST: stepping over 1000 entries of claimed jobs is not yet slow; over 1000 is
select pgrun_tests.claim(1, 1, array['t']);
select is(coalesce(current_setting('pgrun.claim_slow_since', true), ''), '', 'stepping over 1000 entries uses no hint');
select pgrun_tests.claim(1, 1, array['t']);
select isnt(current_setting('pgrun.claim_slow_since', true), '', 'stepping over 1001 entries enters hint mode');

select finish();
rollback;
