begin;
select plan(11);
create extension if not exists dblink;

-- Two parents of one child completing at the same time, in two real sessions
-- (workers 1 and 2): they take turns on the child's row, so exactly one of
-- them sees the other's completion and releases the child. An outcome never
-- waits for a row lock: the second is answered 'busy' and sent again.
select * from pgrun_tests.race_sessions('w1', 'w2') \gset
select pgrun_tests.run('w1', 'select pgrun_tests.register(2)');
select pgrun_tests.run('w1', $$select pgrun.add_job('parent', queue_name => 'p1')$$);
select pgrun_tests.run('w1', $$select pgrun.add_job('parent')$$);
select min(id) as p1, max(id) as p2 from pgrun._private_jobs \gset
select pgrun_tests.run('w1', format($$select pgrun.add_job('child', queue_name => 'cq', depends_on => array[%s, %s])$$, :p1, :p2));
select max(id) as child from pgrun._private_jobs \gset
select pgrun_tests.run('w1', 'select from pgrun_tests.claim(1, 1)');
select pgrun_tests.run('w2', 'select from pgrun_tests.claim(2, 1)');

-- TEST: both parents complete at once: the second finds the child held, is busy, and does not wait
select dblink_exec('w1', 'begin');
select is(pgrun_tests.run('w1', format($$select from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
                                       pgrun_tests.worker(1), :p1, pgrun_tests.lease(:p1))),
  1::bigint, 'worker 1 completes parent 1 (not committed yet)');
select ok(pgrun_tests.returns_promptly('w2',
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(2), :p2, pgrun_tests.lease(:p2))),
  'worker 2''s completion of parent 2 returns at once');
select results_eq($$select * from dblink_get_result('w2') as t(job_id bigint, outcome text)$$,
  format($$values (%s::bigint, 'busy')$$, :p2), 'it is busy: the child''s row is held');
select * from dblink_get_result('w2') as t(job_id bigint, outcome text);
select dblink_exec('w1', 'commit');
select is(pgrun_tests.state(:child), 'blocked', 'one parent done: the child still waits');

-- TEST: sent again, the second completion releases the child, once
select set_eq(format($$select job_id, outcome from dblink('w2', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(2), :p2, pgrun_tests.lease(:p2))),
  format($$values (%s::bigint, 'completed')$$, :p2), 'sent again, it completes');
select is(pgrun_tests.state(:child), 'available', 'both parents done: the child is available');
select is((select count(*) from pgrun_tests.listed() as l where l.job_id = :child), 1::bigint,
  'it is offered to the claim once');
select is(pgrun_tests.run('w1', format('select from pgrun_tests.claim(1, 10) as c where c.id = %s', :child)), 1::bigint,
  'and claimed once');

-- TEST: an application transaction holding the child's row delays nothing but the
-- parent's own outcome, which is busy (it does not wait), then completes
select pgrun_tests.run('w1', $$select pgrun.add_job('parent')$$);
select max(id) as p3 from pgrun._private_jobs \gset
select pgrun_tests.run('w1', format($$select pgrun.add_job('child', depends_on => array[%s])$$, :p3));
select max(id) as child2 from pgrun._private_jobs \gset
select pgrun_tests.run('w2', 'select from pgrun_tests.claim(2, 1)');
select dblink_exec('w1', 'begin');
select pgrun_tests.run('w1', format('select from pgrun._private_jobs where id = %s for update', :child2));
select ok(pgrun_tests.returns_promptly('w2',
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(2), :p3, pgrun_tests.lease(:p3))),
  'the parent''s completion returns at once while an application holds the child');
select results_eq($$select * from dblink_get_result('w2') as t(job_id bigint, outcome text)$$,
  format($$values (%s::bigint, 'busy')$$, :p3), 'busy');
select * from dblink_get_result('w2') as t(job_id bigint, outcome text);
select dblink_exec('w1', 'rollback');
select set_eq(format($$select job_id, outcome from dblink('w2', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(2), :p3, pgrun_tests.lease(:p3))),
  format($$values (%s::bigint, 'completed')$$, :p3), 'once the application let go, it completes and releases');

select pgrun_tests.run('w1', 'select pgrun_tests.reset()');
select dblink_disconnect('w1');
select dblink_disconnect('w2');
select finish();
rollback;
