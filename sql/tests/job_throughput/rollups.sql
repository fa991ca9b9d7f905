begin;
select plan(10);
select pgrun_tests.reset();
select pgrun_tests.register(1);
select pgrun_tests.register(2);

-- SETUP: worker 1 completes two jobs of task a in one batch and fails one of
-- task b (retried); worker 2 completes one of a and fails one of b for good
select pgrun.add_job('a') from generate_series(1, 3);
select pgrun.add_job('b');
select pgrun.add_job('b', max_attempts => 1);
create temporary table held on commit drop as
  select 1 as worker, c.id, c.lease from pgrun_tests.claim(1, 2, array['a']) as c
  union all select 1, c.id, c.lease from pgrun_tests.claim(1, 1, array['b']) as c
  union all select 2, c.id, c.lease from pgrun_tests.claim(2, 1, array['a']) as c
  union all select 2, c.id, c.lease from pgrun_tests.claim(2, 1, array['b']) as c;
select pgrun.complete_attempts(pgrun_tests.worker(1), array_agg(h.id), array_agg(h.lease))
from held as h join pgrun._private_jobs as j using (id) where h.worker = 1 and j.task_identifier = 'a';
select pgrun.fail_attempts(pgrun_tests.worker(1), array_agg(h.id), array_agg(h.lease), array['boom'])
from held as h join pgrun._private_jobs as j using (id) where h.worker = 1 and j.task_identifier = 'b';
select pgrun.complete_attempts(pgrun_tests.worker(2), array_agg(h.id), array_agg(h.lease))
from held as h join pgrun._private_jobs as j using (id) where h.worker = 2 and j.task_identifier = 'a';
select pgrun.fail_attempts(pgrun_tests.worker(2), array_agg(h.id), array_agg(h.lease), array['boom'])
from held as h join pgrun._private_jobs as j using (id) where h.worker = 2 and j.task_identifier = 'b';

-- TEST: one rollup row per worker, minute and task; a batch adds to its row
select set_eq($$select worker_id, task_identifier, completed, retried, failed, cancelled from pgrun._private_outcome_minutes$$,
  format($$values (%L, 'a', 2, 0, 0, 0), (%L, 'b', 0, 1, 0, 0), (%L, 'a', 1, 0, 0, 0), (%L, 'b', 0, 0, 1, 0)$$,
         pgrun_tests.worker(1), pgrun_tests.worker(1), pgrun_tests.worker(2), pgrun_tests.worker(2)),
  'each worker writes its own rows');
select is((select bool_and(minute = date_trunc('minute', now())) from pgrun._private_outcome_minutes), true,
  'in the minute the attempts ended');

-- TEST: job_throughput sums over workers, per minute and task, zeros included
select results_eq($$select task_identifier, completed, retried, failed, cancelled
                    from pgrun.job_throughput(1)$$,
  $$values ('a', 3::bigint, 0::bigint, 0::bigint, 0::bigint), ('b', 0, 1, 1, 0)$$,
  'summed over the two workers');
select is((select count(*) from pgrun.job_throughput(5)), 10::bigint, 'five minutes, two tasks: ten rows');
select results_eq($$select minute, completed from pgrun.job_throughput(3) where task_identifier = 'a'$$,
  $$select date_trunc('minute', now()) - m * interval '1 minute', case when m = 0 then 3::bigint else 0 end
    from generate_series(2, 0, -1) as m$$,
  'oldest minute first; minutes without outcomes are zeros');
select is_empty($$select * from pgrun.job_throughput(5, now() + interval '10 minutes')$$,
  'nothing ended in another window');

-- TEST: a later batch of the same worker and minute adds to its row
select pgrun.add_job('a');
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease]) from pgrun_tests.claim(1, 1, array['a']) as c;
select is((select completed from pgrun._private_outcome_minutes
           where worker_id = pgrun_tests.worker(1) and task_identifier = 'a'), 3, 'the row is updated, not repeated');

-- TEST: a cancelled running job counts as cancelled; a given-back attempt does not count
select id as x_id from pgrun.add_job('x') \gset
select id as y_id from pgrun.add_job('y') \gset
select pgrun_tests.claim(1, 2, array['x', 'y']);
select pgrun.cancel_jobs(array[:x_id]::bigint[]);
select pgrun.complete_attempts(pgrun_tests.worker(1), array[:x_id]::bigint[], array[pgrun_tests.lease(:x_id)]);
select pgrun.return_attempts(pgrun_tests.worker(1), array[:y_id]::bigint[], array[pgrun_tests.lease(:y_id)]);
select results_eq($$select task_identifier, completed, cancelled from pgrun._private_outcome_minutes
                    where task_identifier in ('x', 'y')$$,
  $$values ('x', 0, 1)$$, 'cancelled counted, the given-back attempt not');

-- TEST: maintain() removes minutes older than outcome_minutes_retention (2 hours)
select pgrun.maintain(now => now() + interval '1 hour');
select is((select count(*) from pgrun._private_outcome_minutes), 5::bigint, 'an hour later they stay');
select pgrun.maintain(now => now() + interval '3 hours');
select is_empty($$select from pgrun._private_outcome_minutes$$, 'three hours later they are gone');

select finish();
rollback;
