begin;
select plan(6);
select pgrun_tests.reset();

-- TEST: a queue name is 1 to 128 characters
select throws_ok($$select pgrun.pause_queue(null)$$, '22023', 'queue_name must be 1 to 128 characters (got NULL)',
  'pause_queue refuses null');
select throws_ok($$select pgrun.pause_queue('')$$, '22023', 'queue_name must be 1 to 128 characters (got '''')',
  'pause_queue refuses an empty name');
select throws_ok(format('select pgrun.pause_queue(%L)', repeat('x', 129)), '22023', null,
  'pause_queue refuses a name of 129 characters');
select throws_ok($$select pgrun.resume_queue('')$$, '22023', null, 'resume_queue refuses an empty name');

-- TEST: resuming a queue that does not exist says so
select throws_ok($$select pgrun.resume_queue('nobody')$$, 'P0002',
  'no queue named ''nobody'' (a queue exists once a job is added to it or it is paused)',
  'resume_queue names the unknown queue');
select is_empty($$select from pgrun._private_job_queues where queue_name = 'nobody'$$, 'and makes no row');

select finish();
rollback;
