-- Helpers for the pgTAP suite, in their own schema (never in pgrun's).
create schema if not exists pgrun_tests;

-- A worker id long enough for the worker API.
create or replace function pgrun_tests.worker(n integer default 1) returns text
language sql immutable as $$ select 'test-worker-' || n $$;

-- Remove every job, queue, queue listing, worker, retention rule, waiter,
-- grant record, paused task, audit row, dead-letter rule, retry policy, outcome rollup,
-- job count, dependency, workflow and durable step, turn priority aging off, put the claim
-- hints' settings back to their defaults and forget the last nudge, so a test starts from nothing.
create or replace function pgrun_tests.reset() returns void
language sql as $$
  delete from pgrun._private_jobs;
  delete from pgrun._private_queue_heads;
  delete from pgrun._private_job_queues;
  delete from pgrun._private_workers;
  delete from pgrun._private_retention;
  delete from pgrun._private_job_waiters;
  delete from pgrun._private_grants;
  delete from pgrun._private_paused_tasks;
  delete from pgrun._private_audit;
  delete from pgrun._private_dead_letters;
  delete from pgrun._private_retry_policies;
  delete from pgrun._private_limits;
  delete from pgrun._private_outcome_minutes;
  delete from pgrun._private_job_counts;
  delete from pgrun._private_job_dependencies;
  delete from pgrun._private_workflows;  -- and their steps
  delete from pgrun._private_job_steps;
  -- aging off, claim hints by their default thresholds
  delete from pgrun._private_settings where name like 'priority\_aging\_%' or name like 'claim\_hint\_%';
  select setval('pgrun._private_last_nudge', 0);
$$;

-- Registers worker n (pgrun_tests.worker(n)) with register_worker: a live
-- lease from `now`, beats every heartbeat_interval, presumed dead after
-- lease_timeout. Returns its id.
create or replace function pgrun_tests.register(
  n integer default 1,
  now timestamptz default now(),
  heartbeat_interval interval default interval '5 seconds',
  lease_timeout interval default interval '20 seconds'
) returns text
language sql as $$
  select pgrun.register_worker(pgrun_tests.worker(register.n), null, register.heartbeat_interval,
                               register.lease_timeout, register.now);
  select pgrun_tests.worker(register.n);
$$;

-- Worker n beats every 5 seconds from `since` to `until` (record_heartbeat,
-- which never reaps), as a live runner would: its run of beats is unbroken.
create or replace function pgrun_tests.beat_steadily(n integer, since timestamptz, until timestamptz)
returns void
language plpgsql as $$
declare
  v_at timestamptz := since;
begin
  while v_at < until loop
    perform pgrun.record_heartbeat(pgrun_tests.worker(n), now => v_at);
    v_at := v_at + interval '5 seconds';
  end loop;
  perform pgrun.record_heartbeat(pgrun_tests.worker(n), now => until);
end;
$$;

-- The lease under which a job runs now (null when it is not running).
create or replace function pgrun_tests.lease(job_id bigint) returns bigint
language sql stable as $$
  select j.lease from pgrun._private_jobs as j where j.id = lease.job_id and j.state = 'running';
$$;

-- A job's state (null when the job is gone).
create or replace function pgrun_tests.state(job_id bigint) returns text
language sql stable as $$
  select j.state from pgrun._private_jobs as j where j.id = state.job_id;
$$;

-- Which queues _private_queue_heads lists, each with the job of its best row.
create or replace function pgrun_tests.listed() returns table (queue_name text, job_id bigint)
language sql stable as $$
  select distinct on (h.queue_name) h.queue_name, h.job_id from pgrun._private_queue_heads as h
  order by h.queue_name, h.priority, h.run_at, h.job_id;
$$;

-- Makes queue `name` with these settings before any job of it is added.
create or replace function pgrun_tests.add_queue(name text, max_running integer default 1) returns void
language sql as $$
  insert into pgrun._private_job_queues (queue_name, max_running) values (add_queue.name, add_queue.max_running);
$$;

-- Queues that break the invariant of docs/internals.md: not paused, with
-- room and a committed available job, yet not listed in _private_queue_heads.
-- Empty whenever nothing is in flight.
create or replace function pgrun_tests.unlisted_queues() returns setof text
language sql stable as $$
  select q.queue_name from pgrun._private_job_queues as q
  where not q.paused and q.running < q.max_running
    and exists (select from pgrun._private_jobs as j where j.queue_name = q.queue_name and j.state = 'available')
    and not exists (select from pgrun._private_queue_heads as h where h.queue_name = q.queue_name)
  order by 1;
$$;

-- Whether each queue's running counter equals the jobs of it that run.
create or replace function pgrun_tests.counters_exact() returns boolean
language sql stable as $$
  select coalesce(bool_and(q.running = (select count(*) from pgrun._private_jobs as j
                                        where (j.queue_name = q.queue_name or q.queue_name = any(j.limit_keys))
                                          and j.state = 'running')), true)
  from pgrun._private_job_queues as q;
$$;

-- The jobs a claim_jobs call took (its sentinel row left out), as (id, lease).
create or replace function pgrun_tests.claim(n integer, max_jobs integer default 1,
  task_identifiers text[] default null, now timestamptz default now())
returns table (id bigint, lease bigint)
language sql as $$
  select c.id, c.lease from pgrun.claim_jobs(pgrun_tests.worker(claim.n), claim.max_jobs,
    claim.task_identifiers, null, claim.now) as c
  where c.id is not null;
$$;

-- Pretend a job was claimed `age` ago: moves back its lock (the attempt's
-- start). For the job_expiry rules of workers that never registered.
create or replace function pgrun_tests.age_lock(job_id bigint, age interval) returns void
language sql as $$
  update pgrun._private_jobs as j
  set locked_at = j.locked_at - age_lock.age
  where j.id = age_lock.job_id and j.locked_at is not null;
$$;

-- Registers worker n and marks it idle, as if its last claim found nothing:
-- only while some worker is idle do enqueuers NOTIFY (_notify_jobs).
create or replace function pgrun_tests.idle_worker(n integer default 1) returns text
language sql as $$
  select pgrun_tests.register(idle_worker.n);
  update pgrun._private_workers set idle_since = now() where worker_id = pgrun_tests.worker(idle_worker.n);
  select pgrun_tests.worker(idle_worker.n);
$$;

-- Forgets when the last nudge was sent, so the next one is not debounced.
create or replace function pgrun_tests.forget_nudge() returns void
language sql as $$
  select setval('pgrun._private_last_nudge', 0);
$$;

-- Records a nudge as sent at `at` (as another transaction's NOTIFY would).
create or replace function pgrun_tests.nudged_at(at timestamptz) returns void
language sql as $$
  select setval('pgrun._private_last_nudge', (extract(epoch from nudged_at.at) * 1000000)::bigint);
$$;

-- How a dblink session reaches this database.
create or replace function pgrun_tests.conninfo() returns text
language sql stable as $$
  select format('host=%s port=%s dbname=%s user=%s',
    coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), current_database(), current_user);
$$;

-- Opens dblink session `name` (a statement that would block where it must
-- not fails after 5 s instead of hanging the suite). Returns its backend pid.
-- Needs dblink: the test runs `create extension dblink` inside its transaction.
create or replace function pgrun_tests.connect(name text) returns integer
language plpgsql as $$
declare
  v_pid integer;
begin
  perform dblink_connect(connect.name, pgrun_tests.conninfo());
  perform dblink_exec(connect.name, 'set statement_timeout = ''5s''');
  select t.pid into v_pid from dblink(connect.name, 'select pg_backend_pid()') as t(pid integer);
  return v_pid;
end;
$$;

-- Runs query on dblink session `name` (autocommit, or inside the
-- transaction that session has open); returns how many rows it gave.
create or replace function pgrun_tests.run(name text, query text) returns bigint
language plpgsql as $$
declare
  v_n bigint;
begin
  select t.n into v_n from dblink(run.name, format('select count(*) from (%s) as q', run.query)) as t(n bigint);
  return v_n;
end;
$$;

-- Waits, at most 5 s, until backend `pid` waits for a lock; says whether it does.
create or replace function pgrun_tests.waits_for_lock(pid integer) returns boolean
language plpgsql as $$
begin
  for i in 1..500 loop
    if exists (select from pg_stat_activity as a
               where a.pid = waits_for_lock.pid and a.wait_event_type = 'Lock') then
      return true;
    end if;
    perform pg_sleep(0.01);
  end loop;
  return false;
end;
$$;

-- Waits, at most 5 s, for the query sent on dblink session `name` to finish;
-- says whether it has.
create or replace function pgrun_tests.finishes(name text) returns boolean
language plpgsql as $$
begin
  for i in 1..500 loop
    if dblink_is_busy(finishes.name) = 0 then
      return true;
    end if;
    perform pg_sleep(0.01);
  end loop;
  return false;
end;
$$;

-- Runs query on dblink session `name` and says whether it came back within
-- 2 s, never waiting longer: a statement that must not wait for a lock
-- shows it here (the statement keeps running if it did not; the caller
-- then cancels it with dblink_cancel_query).
create or replace function pgrun_tests.returns_promptly(name text, query text) returns boolean
language plpgsql as $$
begin
  perform dblink_send_query(returns_promptly.name, returns_promptly.query);
  for i in 1..200 loop
    if dblink_is_busy(returns_promptly.name) = 0 then
      return true;
    end if;
    perform pg_sleep(0.01);
  end loop;
  return false;
end;
$$;

-- Runs each query on a second connection, in a transaction of its own that
-- commits (or, with committed => false, all in one that rolls back), while a
-- third connection LISTENs on 'pgrun:jobs', 'pgrun:finished' and 'pgrun:cancel'; returns the
-- notifications that third connection was sent. A NOTIFY only leaves a
-- transaction that commits, so the test's own (rolled back) transaction could
-- never see one. Unless `debounced`, each query starts with the last nudge
-- forgotten, so the 10 ms debounce of _notify_jobs suppresses nothing. Needs
-- dblink: the test runs `create extension dblink` inside its transaction.
-- Every job, queue and worker is deleted (committed) before and after.
create or replace function pgrun_tests.notifications_from(
  queries text[],
  committed boolean default true,
  debounced boolean default false
) returns table (channel text, payload text)
language plpgsql as $$
declare
  v_query text;
  v_seen record;
  v_done boolean := false;
begin
  if to_regclass('pg_temp.pgrun_tests_received') is null then
    create temporary table pgrun_tests_received (channel text, payload text) on commit drop;
  end if;
  delete from pgrun_tests_received;
  perform dblink_connect('pgrun_tests_listener', pgrun_tests.conninfo());
  perform dblink_connect('pgrun_tests_writer', pgrun_tests.conninfo());
  perform dblink_exec('pgrun_tests_listener',
    'listen "pgrun:jobs"; listen "pgrun:finished"; listen "pgrun:cancel"; listen "pgrun_tests:done"');
  -- A writer blocked by a lock this test holds would otherwise wait forever.
  perform dblink_exec('pgrun_tests_writer', 'set statement_timeout = ''5s''');
  perform * from dblink('pgrun_tests_writer', 'select pgrun_tests.reset()') as t(nothing text);
  if not notifications_from.committed then
    perform dblink_exec('pgrun_tests_writer', 'begin');
  end if;
  foreach v_query in array notifications_from.queries loop
    if not notifications_from.debounced then
      perform * from dblink('pgrun_tests_writer', 'select pgrun_tests.forget_nudge()') as t(nothing text);
    end if;
    perform * from dblink('pgrun_tests_writer', format('select count(*) from (%s) as q', v_query))
      as t(n bigint);
  end loop;
  if not notifications_from.committed then
    perform dblink_exec('pgrun_tests_writer', 'rollback');
  end if;
  -- Notifications arrive in commit order: once this marker is in, all are.
  perform dblink_exec('pgrun_tests_writer', 'notify "pgrun_tests:done"');
  for i in 1..500 loop
    for v_seen in select * from dblink_get_notify('pgrun_tests_listener') loop
      if v_seen.notify_name = 'pgrun_tests:done' then
        v_done := true;
      else
        insert into pgrun_tests_received values (v_seen.notify_name, v_seen.extra);
      end if;
    end loop;
    exit when v_done;
    perform pg_sleep(0.01);
  end loop;
  perform * from dblink('pgrun_tests_writer', 'select pgrun_tests.reset()') as t(nothing text);
  perform dblink_disconnect('pgrun_tests_listener');
  perform dblink_disconnect('pgrun_tests_writer');
  if not v_done then
    raise exception 'the listening connection received no marker notification within 5 seconds';
  end if;
  return query select r.channel, r.payload from pgrun_tests_received as r;
end;
$$;

-- Opens dblink sessions `a` and `b` for a race test, starts from nothing
-- (reset) and registers worker 1; returns both backend pids. Needs dblink.
create or replace function pgrun_tests.race_sessions(a text, b text, out a_pid integer, out b_pid integer)
language plpgsql as $$
begin
  a_pid := pgrun_tests.connect(race_sessions.a);
  b_pid := pgrun_tests.connect(race_sessions.b);
  perform pgrun_tests.run(race_sessions.a, 'select pgrun_tests.reset()');
  perform pgrun_tests.run(race_sessions.a, 'select pgrun_tests.register(1)');
end;
$$;

-- Worker 1 claims the next job of `task` and completes it (with `result`), or
-- fails it with `error` (for good when `permanent`); returns the outcome, or
-- 'nothing to claim'.
create or replace function pgrun_tests.finish_next(task text, result jsonb default null, error text default null,
                                                   permanent boolean default false) returns text
language plpgsql as $$
declare
  v_id bigint;
  v_lease bigint;
begin
  select c.id, c.lease into v_id, v_lease
  from pgrun.claim_jobs(pgrun_tests.worker(1), 1, array[finish_next.task]) as c where c.id is not null;
  if v_id is null then
    return 'nothing to claim';
  elsif finish_next.error is null then
    return (select c.outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[v_id], array[v_lease],
                                                         array[finish_next.result]) as c);
  end if;
  return (select f.outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[v_id], array[v_lease],
                                                   array[finish_next.error], array[finish_next.permanent]) as f);
end;
$$;

-- Opens dblink sessions c1..c4 for four_claims_round, starts from nothing
-- (reset, committed through c1) with workers 1..4 registered, and makes the
-- caller's temporary tables claims and stalls that four_claims_round fills.
create or replace function pgrun_tests.four_sessions() returns void
language plpgsql as $$
begin
  perform pgrun_tests.connect('c' || n) from generate_series(1, 4) as n;
  perform pgrun_tests.run('c1', 'select pgrun_tests.reset()');
  perform pgrun_tests.run('c1', format('select pgrun_tests.register(%s)', n)) from generate_series(1, 4) as n;
  create temporary table claims (round integer, worker integer, id bigint, lease bigint, queue_name text);
  create temporary table stalls (round integer, worker integer);
end;
$$;

-- One round of four claimers, sessions c1..c4 (connected by the caller, workers 1..4
-- registered): all four begin, send claim_jobs(worker n, max_jobs) at once, then collect
-- the claims into the caller's temporary tables claims(round, worker, id, lease,
-- queue_name) and stalls(round, worker) (a claim that did not come back promptly); the
-- transactions stay open until every claim is in, then all commit and each completes
-- what it claimed.
create or replace function pgrun_tests.four_claims_round(r integer, max_jobs integer) returns void
language plpgsql as $$
begin
  for n in 1..4 loop
    perform dblink_exec('c' || n, 'begin');
  end loop;
  for n in 1..4 loop
    perform dblink_send_query('c' || n, format(
      'select c.id, c.lease, c.queue_name from pgrun.claim_jobs(%L, %s) as c where c.id is not null',
      pgrun_tests.worker(n), four_claims_round.max_jobs));
  end loop;
  for n in 1..4 loop
    if not pgrun_tests.finishes('c' || n) then
      insert into stalls values (r, n);
      perform dblink_cancel_query('c' || n);
    end if;
    insert into claims select r, n, t.id, t.lease, t.queue_name
      from dblink_get_result('c' || n) as t(id bigint, lease bigint, queue_name text);
    perform * from dblink_get_result('c' || n) as t(id bigint, lease bigint, queue_name text);
  end loop;
  for n in 1..4 loop
    perform dblink_exec('c' || n, 'commit');
  end loop;
  for n in 1..4 loop
    perform pgrun_tests.run('c' || n, format(
      'select pgrun.complete_attempts(%L, %L::bigint[], %L::bigint[])', pgrun_tests.worker(n),
      (select coalesce(array_agg(c.id order by c.id), '{}') from claims as c where c.round = r and c.worker = n),
      (select coalesce(array_agg(c.lease order by c.id), '{}') from claims as c where c.round = r and c.worker = n)));
  end loop;
end;
$$;

-- Hint mode of the claim (0185_claim_hints.sql), forced: every scan from the
-- start counts as one over a dead head, and hints are never refreshed unless
-- a test changes claim_hint_refresh. Gone with the next reset().
create or replace function pgrun_tests.force_claim_hints() returns void
language sql as $$
  insert into pgrun._private_settings (name, value)
  values ('claim_hint_after_entries', '-1'), ('claim_hint_refresh', '1 hour');
$$;
