begin;
select plan(6);

-- Fault 9: every function that is not security definer was executable by
-- PUBLIC. Now nothing in the schema is executable or usable by PUBLIC.

-- TEST: no function of the schema can be executed by PUBLIC
select is_empty(
  $$select p.oid::regprocedure::text from pg_proc as p
    where p.pronamespace = 'pgrun'::regnamespace and has_function_privilege('public', p.oid, 'execute')$$,
  'PUBLIC may execute no function of the schema');
select is_empty(
  $$select p.oid::regprocedure::text from pg_proc as p, aclexplode(p.proacl) as a
    where p.pronamespace = 'pgrun'::regnamespace and a.grantee = 0$$,
  'no function''s ACL names PUBLIC');
select ok((select count(*) from pg_proc where pronamespace = 'pgrun'::regnamespace) > 50,
  'there are functions to check (every one of them, private helpers included)');

-- TEST: nor use the schema, its type, or read or change any table or view
select ok(not has_schema_privilege('public', 'pgrun', 'usage'), 'PUBLIC may not use the schema');
select ok(not has_type_privilege('public', 'pgrun.job_spec', 'usage'), 'PUBLIC may not use job_spec');
select is_empty(
  $$select c.relname from pg_class as c
    where c.relnamespace = 'pgrun'::regnamespace and c.relkind in ('r', 'v', 'S')
      and (has_table_privilege('public', c.oid, 'select') or has_table_privilege('public', c.oid, 'insert')
           or has_table_privilege('public', c.oid, 'update') or has_table_privilege('public', c.oid, 'delete'))$$,
  'PUBLIC has no right on any table, view or sequence');

select finish();
rollback;
