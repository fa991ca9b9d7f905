begin;
select plan(15);
create extension if not exists dblink;

-- The queue-heads invariant (docs/internals.md) with a real adder and a real
-- remover in two sessions: after both commit, a queue that has room and an
-- available job is listed in _private_queue_heads. This session only watches.
select pgrun_tests.connect('setup');
select pgrun_tests.connect('adder') as adder_pid \gset
select pgrun_tests.connect('remover');

-- SETUP for each case: queue q (room for 2), worker 1; a stale listing: the
-- listed job was removed by an admin, so q is listed but has no job
create function pg_temp.stale_listing() returns void language plpgsql as $$
begin
  perform pgrun_tests.run('setup', 'select pgrun_tests.reset()');
  perform pgrun_tests.run('setup', 'select pgrun_tests.register(1)');
  perform pgrun_tests.run('setup', $q$select pgrun_tests.add_queue('q', 2)$q$);
  perform pgrun_tests.run('setup', $q$select pgrun.complete_jobs(array[(pgrun.add_job('t', queue_name => 'q')).id])$q$);
end;
$$;

-- TEST: the adder pins the stale row first; the remover skips it without waiting
select pg_temp.stale_listing();
select is((select count(*)::integer from pgrun._private_queue_heads), 1, 'setup: q has one (stale) row');
select dblink_exec('adder', 'begin');
select pgrun_tests.run('adder', $$select pgrun.add_job('t', queue_name => 'q')$$);
select dblink_exec('remover', 'begin');
select ok(pgrun_tests.returns_promptly('remover', $$select pgrun._refresh_queue_heads(array['q'])$$),
  'the remover does not wait for the adder''s pin');
select * from dblink_get_result('remover') as t(x text);
select * from dblink_get_result('remover') as t(x text);
select dblink_exec('remover', 'commit');
select dblink_exec('adder', 'commit');
select is_empty($$select pgrun_tests.unlisted_queues()$$, 'after both commit q is listed');
select is(pgrun_tests.run('setup', 'select from pgrun_tests.claim(1, 5)'), 1::bigint, 'and its job is claimed');

-- TEST: the remover locks the stale row first; the adder waits for it, then lists its own
select pg_temp.stale_listing();
select dblink_exec('remover', 'begin');
select pgrun_tests.run('remover', $$select pgrun._refresh_queue_heads(array['q'])$$);
select dblink_exec('adder', 'begin');
select dblink_send_query('adder', $$select pgrun.add_job('t', queue_name => 'q')$$);
select ok(pgrun_tests.waits_for_lock(:adder_pid), 'the adder waits for the remover''s brief lock');
select dblink_exec('remover', 'commit');
select ok(pgrun_tests.finishes('adder'), 'and goes on once the remover commits');
select * from dblink_get_result('adder') as t(x text);
select * from dblink_get_result('adder') as t(x text);
select dblink_exec('adder', 'commit');
select is_empty($$select pgrun_tests.unlisted_queues()$$, 'after both commit q is listed');
select is(pgrun_tests.run('setup', 'select from pgrun_tests.claim(1, 5)'), 1::bigint, 'and its job is claimed');

-- TEST: no row to pin: the adder's own uncommitted row is invisible to the remover
select pg_temp.stale_listing();
select pgrun_tests.run('setup', 'select pgrun._refresh_queue_heads(array[''q''])');
select is((select count(*)::integer from pgrun._private_queue_heads), 0, 'setup: q is not listed');
select dblink_exec('adder', 'begin');
select pgrun_tests.run('adder', $$select pgrun.add_job('t', queue_name => 'q')$$);
select pgrun_tests.run('remover', $$select pgrun._refresh_queue_heads(array['q'])$$);
select dblink_exec('adder', 'commit');
select is_empty($$select pgrun_tests.unlisted_queues()$$, 'after both commit q is listed');

-- TEST: a claim as the remover: it takes q's listed job while an adder pins
-- that row, and leaves the row to the adder
select pgrun_tests.run('setup', 'select pgrun_tests.reset()');
select pgrun_tests.run('setup', 'select pgrun_tests.register(1)');
select pgrun_tests.run('setup', $$select pgrun_tests.add_queue('q', 2)$$);
select pgrun_tests.run('setup', $$select pgrun.add_job('t', queue_name => 'q')$$);
select dblink_exec('adder', 'begin');
select pgrun_tests.run('adder', $$select pgrun.add_job('t', queue_name => 'q')$$);
select is(pgrun_tests.run('remover', format('select from pgrun_tests.claim(1, 1)')), 1::bigint,
  'the claim takes q''s first job while the adder is in flight');
select dblink_exec('adder', 'commit');
select is_empty($$select pgrun_tests.unlisted_queues()$$, 'after both commit q, with room for one more, is listed');

-- TEST: a claim's open transaction as the remover: the adder waits for it,
-- then lists its own job
select pgrun_tests.run('setup', 'select pgrun_tests.reset()');
select pgrun_tests.run('setup', 'select pgrun_tests.register(1)');
select pgrun_tests.run('setup', $$select pgrun_tests.add_queue('q', 2)$$);
select pgrun_tests.run('setup', $$select pgrun.add_job('t', queue_name => 'q')$$);
select dblink_exec('remover', 'begin');
select pgrun_tests.run('remover', 'select from pgrun_tests.claim(1, 1)');
select dblink_exec('adder', 'begin');
select dblink_send_query('adder', $$select pgrun.add_job('t', queue_name => 'q')$$);
select ok(pgrun_tests.waits_for_lock(:adder_pid), 'the adder waits for the claim''s removal of q''s row');
select dblink_exec('remover', 'commit');
select ok(pgrun_tests.finishes('adder'), 'and goes on once the claim commits');
select * from dblink_get_result('adder') as t(x text);
select * from dblink_get_result('adder') as t(x text);
select dblink_exec('adder', 'commit');
select is_empty($$select pgrun_tests.unlisted_queues()$$, 'after both commit q is listed');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('setup', 'select pgrun_tests.reset()');
select dblink_disconnect('setup');
select dblink_disconnect('adder');
select dblink_disconnect('remover');

select finish();
rollback;
