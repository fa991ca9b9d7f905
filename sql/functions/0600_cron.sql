-- Cron: each (item, tick) is enqueued once however many instances run the
-- same crontab. The row of _private_known_crontabs is the lock: an instance
-- claims a tick by moving the item's last_execution forward to it, in the same
-- statement that adds the job, so either both happen or neither does.

-- Records the items of a crontab (those not seen before become known now) and
-- returns each one's bookkeeping. An item seen for the first time is not
-- backfilled: the scheduler fills only from known_since or last_execution on.
create or replace function @schema@.cron_register(
  item_ids text[],
  now timestamptz default now()
) returns table (item_id text, known_since timestamptz, last_execution timestamptz, first_seen boolean)
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_new text[];
begin
  if cron_register.item_ids is null then
    raise exception 'item_ids must not be null' using errcode = '22023';
  end if;
  if exists (select 1 from unnest(cron_register.item_ids) as i where i is null or length(i) not between 1 and 128) then
    raise exception 'every cron item id must be 1 to 128 characters long (got %)', cron_register.item_ids
      using errcode = '22023';
  end if;
  if cron_register.now is null or not isfinite(cron_register.now) then
    raise exception 'now must be a finite timestamp (got %)', quote_nullable(cron_register.now)
      using errcode = '22023';
  end if;

  with inserted as (
    insert into @schema@._private_known_crontabs as k (item_id, known_since)
    select distinct i, cron_register.now from unnest(cron_register.item_ids) as i
    on conflict (item_id) do nothing
    returning k.item_id
  )
  select coalesce(array_agg(inserted.item_id), '{}') into v_new from inserted;

  -- A new statement, so rows that a concurrent registrar committed while we
  -- waited on its insert are visible here too.
  return query
  select k.item_id, k.known_since, k.last_execution, k.item_id = any(v_new)
  from @schema@._private_known_crontabs as k
  where k.item_id = any(cron_register.item_ids)
  order by k.item_id;
end;
$$;

-- Enqueues the job of one tick of one cron item, unless some instance already
-- enqueued this tick or a later one: then returns null. `identifier` and the
-- job options are add_job's; the payload (a JSON object, default {}) gets a
-- `_cron` entry {ts, backfilled} and the job runs at the tick (run_at = ts).
create or replace function @schema@.cron_enqueue_tick(
  item_id text,
  ts timestamptz,
  backfilled boolean,
  identifier text,
  payload json default null,
  queue_name text default null,
  max_attempts integer default null,
  job_key text default null,
  job_key_mode text default null,
  priority integer default null
) returns @schema@._private_jobs
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_payload jsonb;
begin
  if cron_enqueue_tick.item_id is null or length(cron_enqueue_tick.item_id) not between 1 and 128 then
    raise exception 'cron item id must be 1 to 128 characters long (got %)', quote_nullable(cron_enqueue_tick.item_id)
      using errcode = '22023';
  end if;
  if cron_enqueue_tick.ts is null or not isfinite(cron_enqueue_tick.ts) then
    raise exception 'tick of cron item % must be a finite timestamp (got %)', cron_enqueue_tick.item_id,
      quote_nullable(cron_enqueue_tick.ts) using errcode = '22023';
  end if;
  if date_trunc('minute', cron_enqueue_tick.ts) <> cron_enqueue_tick.ts then
    raise exception 'tick % of cron item % is not on a minute boundary', cron_enqueue_tick.ts, cron_enqueue_tick.item_id
      using errcode = '22023';
  end if;
  -- A host whose clock runs ahead must not claim ticks early: last_execution
  -- would move past ticks the other instances have yet to enqueue.
  if cron_enqueue_tick.ts > now() + interval '1 minute' then
    raise exception 'tick % of cron item % is in the future by the database clock (now %); check this host''s clock',
      cron_enqueue_tick.ts, cron_enqueue_tick.item_id, now() using errcode = '22023';
  end if;
  if cron_enqueue_tick.backfilled is null then
    raise exception 'backfilled must be true or false, not null' using errcode = '22023';
  end if;
  if cron_enqueue_tick.payload is not null and json_typeof(cron_enqueue_tick.payload) <> 'object' then
    raise exception 'payload of cron item % must be a JSON object (got %)', cron_enqueue_tick.item_id,
      json_typeof(cron_enqueue_tick.payload) using errcode = '22023';
  end if;

  -- The claim. Concurrent callers queue on the row lock; the second one then
  -- finds last_execution already at ts and updates nothing.
  insert into @schema@._private_known_crontabs as k (item_id, known_since, last_execution)
  values (cron_enqueue_tick.item_id, cron_enqueue_tick.ts, cron_enqueue_tick.ts)
  on conflict (item_id) do update set last_execution = excluded.last_execution
  where k.last_execution is null or k.last_execution < excluded.last_execution;
  if not found then
    return null;
  end if;

  v_payload := coalesce(cron_enqueue_tick.payload::jsonb, '{}'::jsonb)
    || jsonb_build_object('_cron', jsonb_build_object(
         -- the format of JavaScript's toISOString, as Graphile Worker writes it
         'ts', to_char(cron_enqueue_tick.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'backfilled', cron_enqueue_tick.backfilled));

  -- add_job validates the job options; if it refuses, the claim above is
  -- undone with it.
  return @schema@.add_job(
    identifier => cron_enqueue_tick.identifier,
    payload => v_payload::json,
    queue_name => cron_enqueue_tick.queue_name,
    run_at => cron_enqueue_tick.ts,
    max_attempts => cron_enqueue_tick.max_attempts,
    job_key => cron_enqueue_tick.job_key,
    priority => cron_enqueue_tick.priority,
    job_key_mode => cron_enqueue_tick.job_key_mode);
end;
$$;
