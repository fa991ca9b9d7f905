begin;
select plan(5);
select pgrun_tests.reset();

-- TEST: grants name an existing role
select throws_ok($$select pgrun.grant_enqueue('pgrun_no_such_role')$$, '42704', 'role pgrun_no_such_role does not exist',
  'grant_enqueue of an unknown role is refused');
select throws_ok($$select pgrun.grant_worker('pgrun_no_such_role')$$, '42704', 'role pgrun_no_such_role does not exist',
  'so is grant_worker');

-- TEST: task and queue names in an enqueue grant are 1 to 128 characters
create role pgrun_test_web;
select throws_ok($$select pgrun.grant_enqueue('pgrun_test_web', array['ok', ''])$$, '22023',
  'task identifiers must be 1 to 128 characters (got {ok,""})', 'an empty task name is refused');
select throws_ok($$select pgrun.grant_enqueue('pgrun_test_web', null, array[null])$$, '22023',
  'queue names must be 1 to 128 characters (got {NULL})', 'a null queue name is refused');

-- TEST: nothing was recorded
select is_empty($$select from pgrun._private_grants$$, 'no grant was recorded');

select finish();
rollback;
