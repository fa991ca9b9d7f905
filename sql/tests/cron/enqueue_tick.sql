begin;
select plan(16);
select pgrun_tests.reset();
delete from pgrun._private_known_crontabs;
select pgrun.cron_register(array['weekly'], '2024-05-01 00:00+00');

-- TEST: a tick becomes a job with the line's options, due at the tick
create temp table first_job as
  select * from pgrun.cron_enqueue_tick('weekly', '2024-05-06 04:30+00', false, 'send_weekly_email',
    '{"onboarding": false}', 'mail', 10, null, null, -5);
select isnt((select id from first_job), null, 'the first call for a tick returns the job');
select is((select payload::jsonb from pgrun.jobs),
  '{"onboarding": false, "_cron": {"ts": "2024-05-06T04:30:00.000Z", "backfilled": false}}'::jsonb,
  'the payload carries the line''s payload and _cron {ts, backfilled}');
select is((select run_at from pgrun.jobs), '2024-05-06 04:30+00'::timestamptz, 'the job runs at the tick');
select is((select task_identifier from pgrun.jobs), 'send_weekly_email', 'the task is the line''s');
select is((select queue_name from pgrun.jobs), 'mail', 'queue from ?queue=');
select is((select max_attempts from pgrun.jobs), 10::smallint, 'max_attempts from ?max=');
select is((select priority from pgrun.jobs), -5::smallint, 'priority from ?priority=');
select is((select last_execution from pgrun._private_known_crontabs where item_id = 'weekly'),
  '2024-05-06 04:30+00'::timestamptz, 'last_execution moved to the tick');

-- TEST: the same tick, or an older one, enqueues nothing
select is((select id from pgrun.cron_enqueue_tick('weekly', '2024-05-06 04:30+00', false, 'send_weekly_email')),
  null, 'a tick already enqueued returns null');
select is((select id from pgrun.cron_enqueue_tick('weekly', '2024-04-29 04:30+00', true, 'send_weekly_email')),
  null, 'a tick older than last_execution returns null');
select is((select count(*)::int from pgrun.jobs), 1, 'still one job');

-- TEST: a later tick is enqueued, marked backfilled as asked
select isnt((select id from pgrun.cron_enqueue_tick('weekly', '2024-05-13 04:30+00', true, 'send_weekly_email')),
  null, 'the next tick is enqueued');
select is((select payload::jsonb -> '_cron' from pgrun.jobs where run_at = '2024-05-13 04:30+00'),
  '{"ts": "2024-05-13T04:30:00.000Z", "backfilled": true}'::jsonb, 'with backfilled: true');
select is((select payload::jsonb from pgrun.jobs where run_at = '2024-05-13 04:30+00') - '_cron', '{}'::jsonb,
  'a null payload becomes {} beside _cron');

-- TEST: a job key replaces the pending job of the previous tick
select pgrun.cron_enqueue_tick('keyed', '2024-05-01 10:00+00', false, 'rollup', null, null, null, 'rollup-key');
select pgrun.cron_enqueue_tick('keyed', '2024-05-01 10:01+00', false, 'rollup', null, null, null, 'rollup-key');
select is((select count(*)::int from pgrun.jobs where key = 'rollup-key'), 1, 'one job holds the key');
select is((select run_at from pgrun.jobs where key = 'rollup-key'), '2024-05-01 10:01+00'::timestamptz,
  'it is the latest tick''s job (an item never registered is recorded on its first tick)');

select finish();
rollback;
