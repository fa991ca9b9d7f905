-- Error text as it is stored: at most max_chars characters (the cut marked),
-- never null. PostgreSQL text cannot hold NUL, so a runner must replace those
-- before sending (pgrun's runner writes them as \x00).
create or replace function @schema@._clean_error(
  message text,
  max_chars integer
) returns text
language sql immutable
as $$
  select case
    when _clean_error.message is null or _clean_error.message = '' then 'error (no message given)'
    when length(_clean_error.message) <= _clean_error.max_chars then _clean_error.message
    else left(_clean_error.message, _clean_error.max_chars - 40)
         || format(E'\n... [%s characters cut]', length(_clean_error.message) - _clean_error.max_chars + 40)
  end;
$$;

-- What a cancelled job records as its error: "cancelled[: reason]".
create or replace function @schema@._cancel_message(
  reason text
) returns text
language sql immutable
as $$
  select 'cancelled' || coalesce(': ' || _cancel_message.reason, '');
$$;

-- The errors history with one more attempt's entry: the last
-- error_history_length entries are kept, each cut to error_entry_max_chars.
create or replace function @schema@._with_error(
  errors jsonb,
  attempt integer,
  message text,
  at timestamptz
) returns jsonb
language plpgsql stable
as $$
declare
  v_keep integer := @schema@._setting('error_history_length', '10')::integer;
  v_all jsonb := coalesce(_with_error.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
    'at', _with_error.at, 'attempt', _with_error.attempt,
    'error', @schema@._clean_error(_with_error.message,
                                   @schema@._setting('error_entry_max_chars', '4000')::integer)));
  v_n integer := jsonb_array_length(v_all);
begin
  if v_n <= v_keep then
    return v_all;
  end if;
  return (select jsonb_agg(e order by i) from jsonb_array_elements(v_all) with ordinality as x(e, i)
          where i > v_n - v_keep);
end;
$$;

-- What an attempt stopped by its timeout records: "timed out after N s", N the
-- timeout in whole seconds (at least 1). pgrun's runner writes the same words
-- when it stops the attempt itself; the SQL sweep (_time_out_attempts) after
-- the grace.
create or replace function @schema@._timeout_message(
  timeout interval
) returns text
language sql immutable
as $$
  select format('timed out after %s s', greatest(floor(extract(epoch from _timeout_message.timeout)), 1)::bigint);
$$;
