begin;
select plan(4);
select pgrun_tests.reset();

-- TEST: a task identifier is 1 to 128 characters
select throws_ok($$select pgrun.pause_task(null)$$, '22023', 'task_identifier must be 1 to 128 characters (got NULL)',
  'pause_task refuses null');
select throws_ok($$select pgrun.pause_task('')$$, '22023', 'task_identifier must be 1 to 128 characters (got '''')',
  'pause_task refuses an empty name');
select throws_ok(format('select pgrun.pause_task(%L)', repeat('x', 129)), '22023', null,
  'pause_task refuses a name of 129 characters');
select throws_ok($$select pgrun.resume_task(null)$$, '22023', null, 'resume_task refuses null');

select finish();
rollback;
