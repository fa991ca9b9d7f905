-- Helpers for the pgTAP suite, in their own schema (never in pgrun's).
create schema if not exists pgrun_tests;

-- A worker id long enough for the worker API.
create or replace function pgrun_tests.worker(n integer default 1) returns text
language sql immutable as $$ select 'test-worker-' || n $$;

-- Remove every job, queue and worker so a test starts from nothing.
create or replace function pgrun_tests.reset() returns void
language sql as $$
  delete from pgrun._private_jobs;
  delete from pgrun._private_job_queues;
  delete from pgrun._private_workers;
$$;

-- Pretend a job was claimed `age` ago: moves back its lock and, when it runs in
-- a named queue, the queue's lock too. For the "lock older than 4 hours" rules.
create or replace function pgrun_tests.age_lock(job_id bigint, age interval) returns void
language sql as $$
  update pgrun._private_jobs as j
  set locked_at = j.locked_at - age_lock.age
  where j.id = age_lock.job_id and j.locked_at is not null;
  update pgrun._private_job_queues as q
  set locked_at = q.locked_at - age_lock.age
  from pgrun._private_jobs as j
  where j.id = age_lock.job_id and q.queue_name = j.queue_name and q.locked_by = j.locked_by;
$$;

-- Runs each query on a second connection, in a transaction of its own that
-- commits (or, with committed => false, all in one that rolls back), while a
-- third connection LISTENs on 'pgrun:jobs'; returns the notifications that
-- third connection was sent. A NOTIFY only leaves a transaction that commits,
-- so the test's own (rolled back) transaction could never see one. Needs
-- dblink: the test runs `create extension dblink` inside its transaction.
-- Every job, queue and worker is deleted (committed) before and after.
create or replace function pgrun_tests.notifications_from(queries text[], committed boolean default true)
returns table (channel text, payload text)
language plpgsql as $$
declare
  v_conninfo text := format('host=%s port=%s dbname=%s user=%s',
    coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), current_database(), current_user);
  v_query text;
  v_seen record;
  v_done boolean := false;
begin
  if to_regclass('pg_temp.pgrun_tests_received') is null then
    create temporary table pgrun_tests_received (channel text, payload text) on commit drop;
  end if;
  delete from pgrun_tests_received;
  perform dblink_connect('pgrun_tests_listener', v_conninfo);
  perform dblink_connect('pgrun_tests_writer', v_conninfo);
  perform dblink_exec('pgrun_tests_listener', 'listen "pgrun:jobs"; listen "pgrun_tests:done"');
  -- A writer blocked by a lock this test holds would otherwise wait forever.
  perform dblink_exec('pgrun_tests_writer', 'set statement_timeout = ''5s''');
  perform * from dblink('pgrun_tests_writer', 'select pgrun_tests.reset()') as t(nothing text);
  if not notifications_from.committed then
    perform dblink_exec('pgrun_tests_writer', 'begin');
  end if;
  foreach v_query in array notifications_from.queries loop
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
