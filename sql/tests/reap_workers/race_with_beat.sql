begin;
select plan(8);
create extension if not exists dblink;

-- Reaping vs a live worker's beat, in real sessions: a worker whose last
-- committed beat is older than its timeout beats at the very moment a reaper
-- runs. Either the beat wins (the reaper skips the row it holds) or the
-- reaper wins (the beat waits, then learns it was reaped). Never both.
select pgrun_tests.connect('setup');
select pgrun_tests.connect('beat') as beat_pid \gset
select pgrun_tests.connect('reaper');

-- SETUP (committed): worker 1 beats steadily; worker 2 runs a job and last beat 25 s ago
create function pg_temp.setup() returns void language plpgsql as $$
begin
  perform pgrun_tests.run('setup', 'select pgrun_tests.reset()');
  perform pgrun_tests.run('setup', $q$select pgrun_tests.register(n, now() - interval '1 minute') from generate_series(1, 2) as n$q$);
  perform pgrun_tests.run('setup', $q$select pgrun.add_job('t', run_at => now() - interval '2 minutes')$q$);
  perform pgrun_tests.run('setup', $q$select pgrun_tests.claim(2, 1, null, now() - interval '1 minute')$q$);
  perform pgrun_tests.run('setup', $q$select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() - interval '25 seconds')$q$);
  perform pgrun_tests.run('setup', $q$select pgrun_tests.beat_steadily(1, now() - interval '1 minute', now() - interval '1 second')$q$);
end;
$$;

-- TEST: the beat first: the reaper skips the row it holds, without waiting
select pg_temp.setup();
select id as job_id from pgrun.jobs \gset
select dblink_exec('beat', 'begin');
select pgrun_tests.run('beat', format('select pgrun.heartbeat(%L)', pgrun_tests.worker(2)));
select ok(pgrun_tests.returns_promptly('reaper', format('select * from pgrun.reap_workers(%L)', pgrun_tests.worker(1))),
  'the reaper does not wait for the beating worker''s row');
select is_empty($$select * from dblink_get_result('reaper') as t(worker_id text, released_jobs integer)$$,
  'and reaps nobody');
select * from dblink_get_result('reaper') as t(worker_id text, released_jobs integer);
select dblink_exec('beat', 'commit');
select results_eq(format('select w.reaped_at, j.state, j.locked_by from pgrun._private_workers as w, pgrun.jobs as j
                          where w.worker_id = %L and j.id = %s', pgrun_tests.worker(2), :job_id),
  format($$values (null::timestamptz, 'running', %L)$$, pgrun_tests.worker(2)),
  'worker 2 is live and still runs its job');

-- TEST: the reaper first: the beat waits for it, then learns it was reaped
select pg_temp.setup();
select id as job_id from pgrun.jobs \gset
select dblink_exec('reaper', 'begin');
select results_eq(format('select * from dblink(%L, %L) as t(worker_id text, released_jobs integer)', 'reaper',
                         format('select * from pgrun.reap_workers(%L)', pgrun_tests.worker(1))),
  format($$values (%L, 1)$$, pgrun_tests.worker(2)), 'the reaper reaps worker 2 (not committed yet)');
select dblink_send_query('beat', format('select pgrun.heartbeat(%L)', pgrun_tests.worker(2)));
select ok(pgrun_tests.waits_for_lock(:beat_pid), 'the beat waits for the reaper''s lock on its row');
select dblink_exec('reaper', 'commit');
select ok(pgrun_tests.finishes('beat'), 'and goes on once the reaper commits');
select * from dblink_get_result('beat', false) as t(x text);
select ok(strpos(dblink_error_message('beat'),
  format('ERROR:  worker %s was presumed dead by %s at %s and its jobs were released; register again under a new id',
         pgrun_tests.worker(2), pgrun_tests.worker(1),
         (select reaped_at from pgrun._private_workers where worker_id = pgrun_tests.worker(2)))) = 1,
  'to learn that it was reaped');
select * from dblink_get_result('beat', false) as t(x text);
select results_eq(format('select j.state, j.locked_by from pgrun.jobs as j where j.id = %s', :job_id),
  $$values ('available', null::text)$$, 'its job was released, once');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('setup', 'select pgrun_tests.reset()');
select dblink_disconnect('setup');
select dblink_disconnect('beat');
select dblink_disconnect('reaper');

select finish();
rollback;
