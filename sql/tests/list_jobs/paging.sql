begin;
select plan(4);
select pgrun_tests.reset();

-- SETUP: 25 jobs
select pgrun.add_job('t', json_build_object('n', n)) from generate_series(1, 25) as n;
select max(id) as last_id from pgrun._private_jobs \gset

-- TEST: max_rows per page; before_id gives the next page
select results_eq($$select id from pgrun.list_jobs(max_rows => 10)$$,
  format('select g::bigint from generate_series(%s, %s, -1) as g', :last_id, :last_id - 9), 'the first page');
select results_eq(format('select id from pgrun.list_jobs(before_id => %s, max_rows => 10)', :last_id - 9),
  format('select g::bigint from generate_series(%s, %s, -1) as g', :last_id - 10, :last_id - 19), 'the second page');
select is((select count(*) from pgrun.list_jobs(before_id => :last_id - 19, max_rows => 10)), 5::bigint,
  'the last page is short');
select is_empty(format('select from pgrun.list_jobs(before_id => %s)', :last_id - 24), 'and after it nothing');

select finish();
rollback;
