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
begin
  if cardinality(v_names) = 0 then
    return;
  end if;
  for i in 1..10 loop
    insert into @schema@._private_job_queues (queue_name)
    select q from unnest(v_names) as q order by 1
    on conflict do nothing;
    select count(*) into v_locked
    from (select from @schema@._private_job_queues as q where q.queue_name = any(v_names)
          order by q.queue_name for key share of q) as q;
    exit when v_locked = cardinality(v_names);  -- else one was dropped meanwhile: again
  end loop;
end;
$$;
