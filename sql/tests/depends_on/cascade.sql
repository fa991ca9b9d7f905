begin;
select plan(12);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: a chain a <- b <- c, and d depending on a and on an unrelated job
select id as a from pgrun.add_job('a', max_attempts => 1) \gset
select id as other from pgrun.add_job('other', run_at => now() + interval '1 hour') \gset
select id as b from pgrun.add_job('b', depends_on => array[:a]) \gset
select id as c from pgrun.add_job('c', depends_on => array[:b]) \gset
select id as d from pgrun.add_job('d', depends_on => array[:other, :a]) \gset

-- TEST: a parent failing for good cancels its blocked descendants, naming it
select from pgrun_tests.claim(1, 1);
select results_eq(format($$select outcome from pgrun.fail_attempts(%L, array[%s]::bigint[], array[%s]::bigint[], array['boom'])$$,
                         pgrun_tests.worker(1), :a, pgrun_tests.lease(:a)),
  $$values ('failed')$$, 'the parent fails for good');
select results_eq(format('select id, state, cancel_reason from pgrun.jobs where id in (%s, %s, %s) order by id', :b, :c, :d),
  format($$values (%s::bigint, 'cancelled', 'job %s, which it depends on, failed'),
                  (%s, 'cancelled', 'job %s, which it depends on, was cancelled'),
                  (%s, 'cancelled', 'job %s, which it depends on, failed')$$, :b, :a, :c, :b, :d, :a),
  'its children are cancelled naming it, and their children naming them');
select is((select last_error from pgrun.jobs where id = :c), format('cancelled: job %s, which it depends on, was cancelled', :b),
  'the reason is the cancelled job''s last error too');
select results_eq(format('select reason from pgrun.explain_job(%s)', :d),
  format($$select 'cancelled at ' || finished_at || ': job %s, which it depends on, failed' from pgrun.jobs where id = %s$$, :a, :d),
  'explain_job says why');
select is(pgrun_tests.state(:other), 'scheduled', 'the unrelated parent is left alone');
select is((select count(*) from pgrun._private_job_dependencies), 1::bigint,
  'only the unrelated parent''s link is left (to the cancelled child)');

-- TEST: a retryable failure cancels nothing
select id as e from pgrun.add_job('e', max_attempts => 3) \gset
select id as f from pgrun.add_job('f', depends_on => array[:e]) \gset
select from pgrun_tests.claim(1, 1);
select from pgrun.fail_attempts(pgrun_tests.worker(1), array[:e]::bigint[], array[pgrun_tests.lease(:e)], array['once']);
select is(pgrun_tests.state(:f), 'blocked', 'the child of a retryable parent still waits');

-- TEST: cancel_jobs on a waiting parent cancels its children
select from pgrun.cancel_jobs(array[:e]::bigint[], 'not needed');
select results_eq(format('select state, cancel_reason from pgrun.jobs where id = %s', :f),
  format($$values ('cancelled', 'job %s, which it depends on, was cancelled')$$, :e), 'cancel_jobs cascades');

-- TEST: permanently_fail_jobs on a waiting parent cancels its children
select id as g from pgrun.add_job('g') \gset
select id as h from pgrun.add_job('h', depends_on => array[:g]) \gset
select from pgrun.permanently_fail_jobs(array[:g]::bigint[]);
select results_eq(format('select state, cancel_reason from pgrun.jobs where id = %s', :h),
  format($$values ('cancelled', 'job %s, which it depends on, failed')$$, :g), 'permanently_fail_jobs cascades');

-- TEST: complete_jobs (admin) on a waiting parent releases its children
select id as i from pgrun.add_job('i') \gset
select id as k from pgrun.add_job('k', depends_on => array[:i]) \gset
select from pgrun.complete_jobs(array[:i]::bigint[]);
select is(pgrun_tests.state(:k), 'available', 'complete_jobs releases');

-- TEST: remove_job of a waiting parent cancels its children (they would wait forever)
select id as l from pgrun.add_job('l', job_key => 'parent-key') \gset
select id as m from pgrun.add_job('m', depends_on => array[:l]) \gset
select from pgrun.remove_job('parent-key');
select results_eq(format('select state, cancel_reason from pgrun.jobs where id = %s', :m),
  format($$values ('cancelled', 'job %s, which it depends on, was cancelled')$$, :l), 'remove_job cascades as a cancel');

-- TEST: reschedule_jobs using up a waiting parent's attempts fails it, and cancels its children
select id as n from pgrun.add_job('n') \gset
select id as o from pgrun.add_job('o', depends_on => array[:n]) \gset
select from pgrun.reschedule_jobs(array[:n]::bigint[], attempts => 25);
select results_eq(format('select state, cancel_reason from pgrun.jobs where id = %s', :o),
  format($$values ('cancelled', 'job %s, which it depends on, failed')$$, :n), 'reschedule_jobs cascades a failure');

select finish();
rollback;
