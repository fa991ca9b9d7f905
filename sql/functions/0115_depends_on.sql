-- Dependencies (add_job's depends_on, job_spec's depends_on): a job is
-- 'blocked' until every job it names has completed. A parent must exist when
-- its child is added: one that is waiting or running is locked (so it cannot
-- end while the child is being added) and gets the child in
-- _private_job_dependencies; one that completed and is still kept (retention)
-- counts as completed at once, its result copied. When a parent ends,
-- _follow_ends (0180_follow_ends.sql) releases or cancels its children.

-- The parents named by these ids, locked in id order: which are still to
-- complete (pending) and what the completed ones returned (results, by id as
-- text). Refuses a null id, an unknown job, a parent that already failed or
-- was cancelled, and (restricted enqueue roles) a job the role did not add.
create or replace function @schema@._parents_of(
  label text,
  parent_ids bigint[],
  restricted boolean default false,
  creator name default null,
  out pending bigint[],
  out results jsonb
)
language plpgsql volatile
as $$
declare
  v_parent record;
  v_missing bigint;
begin
  if array_position(_parents_of.parent_ids, null) is not null then
    raise exception '%depends_on must not contain null', label using errcode = '22004';
  end if;
  results := '{}'::jsonb;
  for v_parent in
    select j.id, j.state, j.result, j.created_by from @schema@._private_jobs as j
    where j.id = any(_parents_of.parent_ids)
    order by j.id
    for no key update
  loop
    if _parents_of.restricted and v_parent.created_by is distinct from _parents_of.creator then
      raise exception '%depends_on: job % was not added by this role', label, v_parent.id using errcode = '42501';
    end if;
    if v_parent.state in ('failed', 'cancelled') then
      raise exception '%depends_on: job % has already ended %; a job that depends on it could never run',
        label, v_parent.id, v_parent.state using errcode = '55000';
    elsif v_parent.state = 'completed' then
      results := results || jsonb_build_object(v_parent.id::text, coalesce(v_parent.result, 'null'::jsonb));
    else
      pending := pending || v_parent.id;
    end if;
  end loop;
  select p into v_missing from unnest(_parents_of.parent_ids) as p
  where not (results ? p::text) and not p = any(coalesce(pending, '{}')) order by p limit 1;
  if v_missing is not null then
    raise exception '%depends_on: no job % (never added, or it finished and retention removed it)',
      label, v_missing using errcode = '23503';
  end if;
end;
$$;

-- Records that these children wait for these parents (pairs, same length),
-- and marks the parents, whose end now concerns others.
create or replace function @schema@._link_parents(
  job_ids bigint[],
  parent_ids bigint[]
) returns void
language plpgsql volatile
as $$
begin
  insert into @schema@._private_job_dependencies (parent_id, job_id)
  select l.parent_id, l.job_id from unnest(_link_parents.job_ids, _link_parents.parent_ids) as l(job_id, parent_id)
  order by l.parent_id, l.job_id
  on conflict do nothing;
  update @schema@._private_jobs as j set has_followers = true
  where j.id in (select p from unnest(_link_parents.parent_ids) as p) and j.has_followers is not true;
end;
$$;

-- The positions of these specs in a topological order, as levels: level 1
-- depends on no other spec of the call, level n on specs of levels below n.
-- refs[i] are spec i's references to other specs (positions, 1-based).
-- Raises for a reference out of range and for a cycle, naming its specs.
create or replace function @schema@._graph_levels(
  label text,
  refs jsonb  -- [[2, 3], [], ...]: spec 1 depends on specs 2 and 3
) returns integer[]
language plpgsql immutable
as $$
declare
  v_n integer := jsonb_array_length(_graph_levels.refs);
  v_levels integer[] := array_fill(0, array[jsonb_array_length(_graph_levels.refs)]);
  v_bad record;
  v_left integer[];
  v_ready integer[];
  v_level integer := 0;
begin
  select s.spec, e.v::integer as ref into v_bad
  from jsonb_array_elements(_graph_levels.refs) with ordinality as s(r, spec),
       jsonb_array_elements_text(s.r) as e(v)
  where e.v::integer not between 1 and v_n
  order by s.spec
  limit 1;
  if found then
    raise exception '%specs[%]: depends_on refers to spec % of this call, which has % specs (-k names spec k)',
      label, v_bad.spec, v_bad.ref, v_n using errcode = '22023';
  end if;
  v_left := array(select generate_series(1, v_n));
  loop
    v_ready := array(select l from unnest(v_left) as l
                     where not exists (select from jsonb_array_elements_text(_graph_levels.refs -> (l - 1)) as r
                                       where r::integer = any(v_left)));
    exit when cardinality(v_ready) = 0;
    v_level := v_level + 1;
    for i in 1..cardinality(v_ready) loop
      v_levels[v_ready[i]] := v_level;
    end loop;
    v_left := array(select l from unnest(v_left) as l where not l = any(v_ready));
  end loop;
  if cardinality(v_left) > 0 then
    raise exception '%depends_on makes a cycle: specs % wait for one another', label,
      array_to_string(v_left, ', ') using errcode = '22023';
  end if;
  return v_levels;
end;
$$;

-- add_jobs' path for specs with depends_on: a whole graph in one statement.
-- In a spec's depends_on, a positive number is the id of an existing job; -k
-- is the job of spec k of this call (1-based), whose id nobody knows yet.
-- Returns one row per spec, in the order of the specs.
create or replace function @schema@._add_job_graph(
  specs @schema@.job_spec[]
) returns @schema@._private_jobs[]
language plpgsql volatile
as $$
declare
  v_n integer := cardinality(_add_job_graph.specs);
  v_ids bigint[];
  v_parents record;
  v_rows @schema@._private_jobs[];
begin
  if exists (select from unnest(_add_job_graph.specs) as s where s.job_key is not null) then
    raise exception 'add_jobs: job_key cannot be combined with depends_on in one call'
      using errcode = '0A000';
  end if;
  if exists (select from unnest(_add_job_graph.specs) as s where array_position(s.depends_on, 0) is not null) then
    raise exception 'add_jobs: depends_on must not contain 0 (ids are positive; -k names spec k of the call)'
      using errcode = '22023';
  end if;
  -- refuses references out of range and cycles
  perform @schema@._graph_levels('add_jobs: ',
    (select jsonb_agg(coalesce((select jsonb_agg(-d) from unnest(s.depends_on) as d where d < 0), '[]'::jsonb)
                      order by s.ord)
     from unnest(_add_job_graph.specs) with ordinality
       as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)));
  -- existing parents, all of them at once and in id order
  v_parents := @schema@._parents_of('add_jobs: ',
    array(select distinct d from unnest(_add_job_graph.specs) as s, unnest(s.depends_on) as d where d > 0 order by d));

  v_ids := array(select nextval('@schema@._private_jobs_id_seq') from generate_series(1, v_n));
  with spec as (
    select s.ord, s.identifier, s.payload, s.queue_name, s.run_at, s.max_attempts, s.priority, s.flags,
           s.limit_keys, array(select case when d < 0 then v_ids[-d] else d end
                 from unnest(s.depends_on) with ordinality as x(d, k) order by x.k) as parents
    from unnest(_add_job_graph.specs) with ordinality
      as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord)
  ), inserted as (
    insert into @schema@._private_jobs
      (id, queue_name, task_identifier, payload, run_at, max_attempts, priority, flags, state,
       depends_on, parent_results, has_followers, limit_keys)
    select v_ids[s.ord], s.queue_name, s.identifier, coalesce(s.payload::jsonb, '{}'::jsonb),
           coalesce(s.run_at, now()), coalesce(s.max_attempts, 25), coalesce(s.priority, 0),
           case when s.flags is not null then
             (select jsonb_object_agg(f, true) from unnest(s.flags) as f where f is not null)
           end,
           case when exists (select from unnest(s.parents) as p where not v_parents.results ? p::text) then 'blocked'
                when s.run_at > now() then 'scheduled' else 'available' end,
           nullif(s.parents, '{}'),
           (select jsonb_object_agg(p::text, v_parents.results -> p::text) from unnest(s.parents) as p
            where v_parents.results ? p::text),
           case when exists (select from spec as o where v_ids[s.ord] = any(o.parents)) then true end,
           s.limit_keys
    from spec as s
    order by s.ord
    returning *
  )
  select array_agg(i order by i.id) into v_rows from inserted as i;
  perform @schema@._link_parents(array_agg(l.job_id), array_agg(l.parent_id))
  from (select v_ids[s.ord] as job_id, d as parent_id
        from unnest(_add_job_graph.specs) with ordinality
          as s(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, depends_on, limit_keys, ord),
             unnest(s.depends_on) as d0(d0),
             lateral (select case when d0.d0 < 0 then v_ids[-d0.d0] else d0.d0 end as d) as r
        where not v_parents.results ? r.d::text) as l
  having count(*) > 0;
  return v_rows;  -- ids were taken in spec order
end;
$$;
