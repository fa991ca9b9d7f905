-- Makes sure these named queues have their rows, and keeps each row from
-- being dropped (maintain drops unused queues) until this transaction ends:
-- a key-share lock, which no adder, claimer or worker waits on.
create or replace function @schema@._use_queues(
  queue_names text[]
) returns void
language plpgsql volatile
as $$
declare
  v_names text[] := array(select distinct q from unnest(_use_queues.queue_names) as q
                          where q is not null order by 1);
  v_locked integer;
  v_new text[];
  v_made text[];
  v_limit_only boolean;
begin
  if cardinality(v_names) = 0 then
    return;
  end if;
  for i in 1..10 loop
    with made as (
      insert into @schema@._private_job_queues (queue_name)
      select q from unnest(v_names) as q order by 1
      on conflict do nothing
      returning queue_name
    )
    select array_agg(m.queue_name) into v_made from made as m;
    v_new := coalesce(v_new, '{}') || coalesce(v_made, '{}');
    select count(*), bool_or(q.limit_only) into v_locked, v_limit_only
    from (select q.limit_only from @schema@._private_job_queues as q where q.queue_name = any(v_names)
          order by q.queue_name for key share of q) as q;
    exit when v_locked = cardinality(v_names);  -- else one was dropped meanwhile: again
  end loop;
  -- Flow control (0097_limits.sql), rare: a new queue takes the limit a
  -- pattern sets for it; a key first named by limit_keys becomes a queue.
  if v_limit_only then
    update @schema@._private_job_queues as q set limit_only = false
    where q.queue_name = any(v_names) and q.limit_only;
    perform @schema@._apply_limits(v_names);
  elsif cardinality(v_new) > 0 and exists (select from @schema@._private_limits) then
    perform @schema@._apply_limits(v_new);
  end if;
end;
$$;
