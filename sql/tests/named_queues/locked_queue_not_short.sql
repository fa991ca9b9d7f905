begin;
select plan(8);
create extension if not exists dblink;

-- Fault 7: a claim came back short, even empty, while runnable jobs existed,
-- because better-priority queue heads whose rows another session was locking
-- took its places. Here a holder session locks them, a claimer claims; this
-- session only watches what they commit.
select pgrun_tests.connect('setup');
select pgrun_tests.connect('holder');
select pgrun_tests.connect('claimer');

-- SETUP (committed): twelve "hot" queues whose heads come first (priority
-- -5), queue "cold" after them (priority 0), an unqueued job last (priority 1)
select pgrun_tests.run('setup', 'select pgrun_tests.reset()');
select pgrun_tests.run('setup', 'select pgrun_tests.register(1)');
select pgrun_tests.run('setup', $$select pgrun.add_job('t', queue_name => 'hot-' || n, priority => -5)
                                  from generate_series(1, 12) as n$$);
select pgrun_tests.run('setup', $$select pgrun.add_job('t', queue_name => 'cold', priority => 0)$$);
select pgrun_tests.run('setup', $$select pgrun.add_job('t', priority => 1)$$);
select id as cold_id from pgrun.jobs where queue_name = 'cold' \gset
select id as free_id from pgrun.jobs where queue_name is null \gset

-- TEST: while another session holds every hot queue's row (as twelve
-- completions in flight would), a claim of one job still gets one
select dblink_exec('holder', 'begin');
select pgrun_tests.run('holder', $$select from pgrun._private_job_queues where queue_name like 'hot-%'
                                   order by queue_name for no key update$$);
select ok(pgrun_tests.returns_promptly('claimer',
    format('select id from pgrun.claim_jobs(%L, 1) where id is not null', pgrun_tests.worker(1))),
  'the claim does not wait for the held queues');
select set_eq($$select id from dblink_get_result('claimer') as t(id bigint)$$,
  format('values (%s::bigint)', :cold_id), 'it takes the head of the first queue it can lock');
select * from dblink_get_result('claimer') as t(id bigint);
select is((select array_agg(id) from dblink('claimer',
    format('select id from pgrun.claim_jobs(%L, 1) where id is not null', pgrun_tests.worker(1))) as t(id bigint)),
  array[:free_id]::bigint[], 'the next claim takes the unqueued job behind them');

-- TEST: the same when the hot queues' head jobs, not their rows, are held (an
-- application re-keying them)
select dblink_exec('holder', 'rollback');
select pgrun_tests.run('setup', format('select pgrun.complete_held_jobs(%L, array[%s, %s]::bigint[])',
                                       pgrun_tests.worker(1), :cold_id, :free_id));
select id as cold2_id from dblink('setup', $$select id from pgrun.add_job('t', queue_name => 'cold')$$) as t(id bigint) \gset
select dblink_exec('holder', 'begin');
select pgrun_tests.run('holder', $$select from pgrun._private_jobs where queue_name like 'hot-%'
                                   order by id for update$$);
select ok(pgrun_tests.returns_promptly('claimer',
    format('select id from pgrun.claim_jobs(%L, 1) where id is not null', pgrun_tests.worker(1))),
  'the claim does not wait for the held jobs');
select set_eq($$select id from dblink_get_result('claimer') as t(id bigint)$$,
  format('values (%s::bigint)', :cold2_id), 'it takes the next queue''s head');
select * from dblink_get_result('claimer') as t(id bigint);

-- TEST: once the holder lets go, the hot queues' jobs are claimed
select dblink_exec('holder', 'commit');
select is((select count(*)::integer from dblink('claimer',
    format('select id from pgrun.claim_jobs(%L, 20) where id is not null', pgrun_tests.worker(1))) as t(id bigint)),
  12, 'all twelve hot jobs are claimed');
select is_empty($$select from pgrun.jobs where state = 'available'$$, 'nothing runnable is left');
select ok(pgrun_tests.counters_exact(), 'every queue counts exactly its running jobs');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('setup', 'select pgrun_tests.reset()');
select dblink_disconnect('setup');
select dblink_disconnect('holder');
select dblink_disconnect('claimer');

select finish();
rollback;
