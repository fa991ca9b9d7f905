begin;
select plan(7);
select pgrun_tests.reset();

-- TEST: an unknown state is named, with the known ones
select throws_ok($$select * from pgrun.list_jobs('done')$$, '22023',
  'unknown state ''done'' (known: scheduled, available, running, retryable, blocked, completed, failed, cancelled)',
  'unknown state');
select throws_ok($$select * from pgrun.list_jobs(max_rows => 0)$$, '22023', 'max_rows must be 1 to 1000 (got 0)', 'max_rows 0');
select throws_ok($$select * from pgrun.list_jobs(max_rows => 1001)$$, '22023', 'max_rows must be 1 to 1000 (got 1001)',
  'max_rows too big');
select throws_ok($$select * from pgrun.list_jobs(max_rows => null)$$, '22023', 'max_rows must be 1 to 1000 (got NULL)',
  'max_rows null');
select throws_ok($$select * from pgrun.list_jobs(payload_contains => '')$$, '22023',
  'payload_contains must not be empty (null: any payload)', 'empty payload text');

-- TEST: a filter value is a value, never SQL
select pgrun.add_job('t');
select is_empty($$select from pgrun.list_jobs(task_identifier => 't'' or true --')$$, 'a quote in a filter matches nothing');

-- TEST: a read role may list jobs
create role pgrun_test_lister;
select pgrun.grant_read('pgrun_test_lister');
set local role pgrun_test_lister;
select is((select count(*) from pgrun.list_jobs()), 1::bigint, 'read may call list_jobs');
reset role;

select finish();
rollback;
