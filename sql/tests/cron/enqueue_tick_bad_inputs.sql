begin;
select plan(14);
select pgrun_tests.reset();
delete from pgrun._private_known_crontabs;
select pgrun.cron_register(array['item'], '2024-05-01 00:00+00');

-- TEST: malformed calls are refused with what is wrong
select throws_ok($$ select pgrun.cron_enqueue_tick(null, '2024-05-01 10:00+00', false, 'task') $$,
  '22023', 'cron item id must be 1 to 128 characters long (got NULL)', 'a null item id');
select throws_ok($$ select pgrun.cron_enqueue_tick('', '2024-05-01 10:00+00', false, 'task') $$,
  '22023', 'cron item id must be 1 to 128 characters long (got '''')', 'an empty item id');
select throws_ok(format($$ select pgrun.cron_enqueue_tick(%L, '2024-05-01 10:00+00', false, 'task') $$, repeat('x', 129)),
  '22023', format('cron item id must be 1 to 128 characters long (got %L)', repeat('x', 129)), 'an item id over 128 characters');
select throws_ok($$ select pgrun.cron_enqueue_tick('item', null, false, 'task') $$,
  '22023', 'tick of cron item item must be a finite timestamp (got NULL)', 'a null tick');
select throws_ok($$ select pgrun.cron_enqueue_tick('item', 'infinity', false, 'task') $$,
  '22023', 'tick of cron item item must be a finite timestamp (got ''infinity'')', 'an infinite tick');
select throws_ok($$ select pgrun.cron_enqueue_tick('item', '2024-05-01 10:00:30+00', false, 'task') $$,
  '22023', 'tick 2024-05-01 10:00:30+00 of cron item item is not on a minute boundary', 'a tick between minutes');
select throws_ok($$ select pgrun.cron_enqueue_tick('item', date_trunc('minute', now()) + interval '5 minutes', false, 'task') $$,
  '22023', format('tick %s of cron item item is in the future by the database clock (now %s); check this host''s clock',
                  date_trunc('minute', now()) + interval '5 minutes', now()),
  'a tick more than a minute ahead of the database clock');
select throws_ok($$ select pgrun.cron_enqueue_tick('item', '2024-05-01 10:00+00', null, 'task') $$,
  '22023', 'backfilled must be true or false, not null', 'a null backfilled');
select throws_ok($$ select pgrun.cron_enqueue_tick('item', '2024-05-01 10:00+00', false, 'task', '[1, 2]') $$,
  '22023', 'payload of cron item item must be a JSON object (got array)', 'an array payload');
select throws_ok($$ select pgrun.cron_enqueue_tick('item', '2024-05-01 10:00+00', false, 'task', '"text"') $$,
  '22023', 'payload of cron item item must be a JSON object (got string)', 'a string payload');

-- TEST: what add_job refuses undoes the claim, so the tick can still be enqueued
select throws_ok($$ select pgrun.cron_enqueue_tick('item', '2024-05-01 10:00+00', false, '') $$,
  '22023', 'task identifier must not be null or empty', 'an empty task identifier (add_job''s check)');
select throws_ok($$ select pgrun.cron_enqueue_tick('item', '2024-05-01 10:00+00', false, 'task', null, null, null, 'k', 'sometimes') $$,
  '22023', 'invalid job_key_mode ''sometimes''; expected ''replace'', ''preserve_run_at'' or ''unsafe_dedupe''',
  'an unknown job_key_mode (add_job''s check)');
select is((select last_execution from pgrun._private_known_crontabs where item_id = 'item'), null,
  'refused calls left last_execution alone');
select isnt((select id from pgrun.cron_enqueue_tick('item', '2024-05-01 10:00+00', false, 'task')), null,
  'the tick is enqueued once the call is right');

select finish();
rollback;
