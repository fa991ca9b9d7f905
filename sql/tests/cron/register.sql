begin;
select plan(9);
select pgrun_tests.reset();
delete from pgrun._private_known_crontabs;

-- TEST: items seen for the first time become known at `now` and say so
select results_eq(
  $$ select item_id, known_since, last_execution, first_seen
     from pgrun.cron_register(array['b', 'a', 'a'], '2024-05-01 10:00:20+00') $$,
  $$ values ('a', '2024-05-01 10:00:20+00'::timestamptz, null::timestamptz, true),
            ('b', '2024-05-01 10:00:20+00'::timestamptz, null::timestamptz, true) $$,
  'new items are recorded once each, known since now, never executed, first seen');

-- TEST: registering again keeps known_since and reports last_execution
select pgrun.cron_enqueue_tick('a', '2024-05-01 10:01+00', false, 'task_a');
select results_eq(
  $$ select item_id, known_since, last_execution, first_seen
     from pgrun.cron_register(array['a', 'b', 'c'], '2024-05-01 11:00+00') $$,
  $$ values ('a', '2024-05-01 10:00:20+00'::timestamptz, '2024-05-01 10:01+00'::timestamptz, false),
            ('b', '2024-05-01 10:00:20+00'::timestamptz, null::timestamptz, false),
            ('c', '2024-05-01 11:00+00'::timestamptz, null::timestamptz, true) $$,
  'known items keep known_since and show their last execution; only the new one is first seen');

-- TEST: items of other crontabs are left alone
select is((select count(*)::int from pgrun.cron_register(array['c'], now())), 1,
  'only the items asked for are returned');
select is((select count(*)::int from pgrun._private_known_crontabs), 3,
  'items not in this call stay known');

-- TEST: bad inputs are refused with a clear message
select throws_ok($$ select * from pgrun.cron_register(null) $$, '22023',
  'item_ids must not be null', 'a null array is refused');
select throws_ok($$ select * from pgrun.cron_register(array['a', null]) $$, '22023',
  'every cron item id must be 1 to 128 characters long (got {a,NULL})',
  'a null item id is refused');
select throws_ok($$ select * from pgrun.cron_register(array['']) $$, '22023',
  'every cron item id must be 1 to 128 characters long (got {""})', 'an empty item id is refused');
select throws_ok(format($$ select * from pgrun.cron_register(array[%L]) $$, repeat('x', 129)), '22023',
  format('every cron item id must be 1 to 128 characters long (got {%s})', repeat('x', 129)),
  'an item id over 128 characters is refused');
select throws_ok($$ select * from pgrun.cron_register(array['a'], null) $$, '22023',
  'now must be a finite timestamp (got NULL)', 'a null now is refused');

select finish();
rollback;
