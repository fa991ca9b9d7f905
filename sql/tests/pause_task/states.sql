begin;
select plan(14);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: task p has an unqueued and a queued job; task t has one of each too
select id as pu_id from pgrun.add_job('p', run_at => now() - interval '5 minutes') \gset
select id as pq_id from pgrun.add_job('p', queue_name => 'q', run_at => now() - interval '4 minutes') \gset
select id as tu_id from pgrun.add_job('t', run_at => now() - interval '3 minutes') \gset
select id as tq_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '2 minutes') \gset

-- TEST: pausing says whether it changed something
select is(pgrun.pause_task('p'), true, 'pause_task pauses p');
select is(pgrun.pause_task('p'), false, 'a second pause changes nothing');
select is(pgrun.pause_task('nobody.yet'), true, 'a task with no job yet can be paused');

-- TEST: no claim takes a paused task's jobs, queued or not, with or without a task list
select results_eq($$select id from pgrun_tests.claim(1, 10, array['p'])$$, 'select null::bigint where false',
  'a claim for p alone gets nothing');
select results_eq($$select id from pgrun_tests.claim(1, 10, array['p', 't']) order by id$$,
  format('values (%s::bigint), (%s)', :tu_id, :tq_id),
  'a claim for p and t gets only t''s jobs, even t''s behind p''s in queue q');
select is(pgrun_tests.state(:pu_id), 'available', 'p''s unqueued job stays available');
select is(pgrun_tests.state(:pq_id), 'available', 'p''s queued job stays available');

-- TEST: a claim for any task passes p by too, and does not ask to look again for it
select pgrun.complete_attempts(pgrun_tests.worker(1), array[:tu_id, :tq_id]::bigint[],
                               array[pgrun_tests.lease(:tu_id), pgrun_tests.lease(:tq_id)]);
select is_empty($$select from pgrun_tests.claim(1, 10)$$, 'a claim for any task gets nothing');
select is((select look_again from pgrun.claim_jobs(pgrun_tests.worker(1), 10) where id is null), false,
  'and says there is nothing to look again for');

-- TEST: a running job of a paused task finishes
select pgrun.resume_task('p');
select is((select id from pgrun_tests.claim(1, 1, array['p'])), :pu_id::bigint, 'p''s first job starts');
select pgrun.pause_task('p');
select is((select outcome from pgrun.complete_attempts(pgrun_tests.worker(1), array[:pu_id]::bigint[],
                                                      array[pgrun_tests.lease(:pu_id)])),
  'completed', 'paused meanwhile, it still completes');

-- TEST: resume lets claims take the jobs again
select is(pgrun.resume_task('p'), true, 'resume_task resumes p');
select is(pgrun.resume_task('p'), false, 'a second resume changes nothing');
select is((select array_agg(id) from pgrun_tests.claim(1, 10)), array[:pq_id]::bigint[], 'p''s queued job runs');

select finish();
rollback;
