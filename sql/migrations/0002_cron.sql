-- pgrun schema, version 2: cron bookkeeping. Tokens: @schema@ is the quoted schema identifier.

-- One row per cron item (a crontab line's ?id=, by default its task identifier),
-- shared by every instance that runs that crontab. last_execution only ever
-- moves forward, and moving it is how an instance claims a tick: the statement
-- that moves it past a tick also enqueues that tick's job (cron_enqueue_tick).
create table @schema@._private_known_crontabs (
  item_id         text primary key,
  -- when an instance first saw the item; an item is never backfilled to before this
  known_since     timestamptz not null,
  -- the latest tick enqueued for the item; null until its first tick
  last_execution  timestamptz,
  constraint known_crontabs_item_id_length check (length(item_id) between 1 and 128)
);
