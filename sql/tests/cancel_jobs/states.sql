begin;
select plan(24);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: a job in each state that waits, a final one, and four running (one in serial queue q)
select id as available_id from pgrun.add_job('t', job_key => 'k') \gset
select id as scheduled_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select id as retryable_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select pgrun.reschedule_jobs(array[:retryable_id]::bigint[], attempts => 1);
select id as failed_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select pgrun.permanently_fail_jobs(array[:failed_id]::bigint[]);
select id as done_id from pgrun.add_job('busy', run_at => now() - interval '5 minutes') \gset
select id as fail_id from pgrun.add_job('busy', run_at => now() - interval '4 minutes') \gset
select id as back_id from pgrun.add_job('busy', run_at => now() - interval '3 minutes') \gset
select id as q_id from pgrun.add_job('busy', queue_name => 'q', run_at => now() - interval '2 minutes') \gset
select id as q_next_id from pgrun.add_job('busy', queue_name => 'q', run_at => now() - interval '1 minute') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 10, array['busy'])), 4, 'setup: four jobs run');
select results_eq($$select state from pgrun.jobs order by id$$,
  $$values ('available'), ('scheduled'), ('retryable'), ('failed'),
           ('running'), ('running'), ('running'), ('running'), ('available')$$, 'setup: the states');

-- TEST: waiting jobs end cancelled at once; running ones are marked; final ones are left
select results_eq(
  format($$select id, state, cancel_reason from pgrun.cancel_jobs(array[%s, %s, %s, %s, %s, %s, %s, %s]::bigint[],
                                                               'customer left') order by id$$,
         :available_id, :scheduled_id, :retryable_id, :failed_id, :done_id, :fail_id, :back_id, :q_id),
  format($$values (%s::bigint, 'cancelled', 'customer left'), (%s, 'cancelled', 'customer left'),
                  (%s, 'cancelled', 'customer left'), (%s, 'running', 'customer left'),
                  (%s, 'running', 'customer left'), (%s, 'running', 'customer left'), (%s, 'running', 'customer left')$$,
         :available_id, :scheduled_id, :retryable_id, :done_id, :fail_id, :back_id, :q_id),
  'returns the jobs as they now are; the failed one is not among them');
select results_eq(format('select state, finished_at, last_error from pgrun.jobs where id = %s', :available_id),
  $$values ('cancelled', now(), 'cancelled: customer left')$$,
  'a cancelled waiting job is final, kept (the default for cancelled jobs), and says why');
select results_eq(format('select state, cancel_requested_at from pgrun.jobs where id = %s', :failed_id),
  $$values ('failed', null::timestamptz)$$, 'a final job is left as it was');
select is((select id from pgrun.add_job('t', job_key => 'k')) <> :available_id, true,
  'the cancelled job''s key is free for a new job');
select is_empty(format('select from pgrun_tests.claim(1, 10, array[''t'']) where id in (%s, %s, %s)',
                       :available_id, :scheduled_id, :retryable_id),
  'cancelled jobs are never claimed');
select results_eq(format('select state, cancel_requested_at, locked_by from pgrun.jobs where id = %s', :done_id),
  format($$values ('running', now(), %L)$$, pgrun_tests.worker(1)), 'a running job keeps running, marked');
select results_eq($$select running from pgrun._private_job_queues where queue_name = 'q'$$, $$values (1)$$,
  'its queue slot stays taken while it runs');
select is_empty($$select from pgrun_tests.claim(1, 10, array['busy'])$$,
  'the next job of the serial queue does not start while the cancelled one runs');

-- TEST: a second cancel keeps the first request
select pgrun.cancel_jobs(array[:done_id]::bigint[], 'again');
select is((select cancel_reason from pgrun.jobs where id = :done_id), 'customer left', 'the first reason stays');

-- TEST: whatever ends the attempt, the job ends cancelled
select results_eq(format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[],
                                  array[%s]::bigint[], array['{"x": 1}'::jsonb])$$,
                         pgrun_tests.worker(1), :done_id, pgrun_tests.lease(:done_id)),
  format($$values (%s::bigint, 'cancelled')$$, :done_id), 'complete_attempts answers cancelled');
select results_eq(format('select state, result, last_error, errors -> -1 ->> ''error'' from pgrun.jobs where id = %s', :done_id),
  $$values ('cancelled', null::jsonb, 'cancelled: customer left', 'cancelled: customer left')$$,
  'completed while cancelled: cancelled, no result kept, the reason in last_error and the errors history');
select results_eq(format($$select job_id, outcome from pgrun.fail_attempts(%L, array[%s]::bigint[],
                                  array[%s]::bigint[], array['boom'])$$,
                         pgrun_tests.worker(1), :fail_id, pgrun_tests.lease(:fail_id)),
  format($$values (%s::bigint, 'cancelled')$$, :fail_id), 'fail_attempts answers cancelled');
select results_eq(format('select state, attempts, run_at < now(), last_error from pgrun.jobs where id = %s', :fail_id),
  $$values ('cancelled', 1::smallint, true, 'cancelled: customer left; its attempt ended: boom')$$,
  'failed while cancelled: not retried, both messages kept');
select results_eq(format($$select job_id, outcome from pgrun.return_attempts(%L, array[%s]::bigint[],
                                  array[%s]::bigint[])$$,
                         pgrun_tests.worker(1), :back_id, pgrun_tests.lease(:back_id)),
  format($$values (%s::bigint, 'cancelled')$$, :back_id), 'return_attempts answers cancelled');
select is(pgrun_tests.state(:back_id), 'cancelled', 'given back while cancelled: cancelled, not available');

-- TEST: the worker's death ends the last one cancelled too, and only then frees its queue
select pgrun.unregister_worker(pgrun_tests.worker(1));
select results_eq(format('select state, last_error from pgrun.jobs where id = %s', :q_id),
  $$values ('cancelled', 'cancelled: customer left; its attempt ended: worker test-worker-1 stopped while holding the job')$$,
  'released with its worker: cancelled, never available again');
select results_eq($$select running from pgrun._private_job_queues where queue_name = 'q'$$, $$values (0)$$,
  'the queue slot is free');
select pgrun_tests.register(2);
select is((select id from pgrun_tests.claim(2, 10, array['busy'])), :q_next_id::bigint,
  'the next job of the queue runs now');
select is(pgrun_tests.counters_exact(), true, 'queue counters are exact');

-- TEST: cancelled jobs stay until removed by default; retention for cancelled applies
select pgrun.set_retention(null, null, interval '0');
select id as gone_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select is_empty(format('select from pgrun.cancel_jobs(array[%s]::bigint[])', :gone_id),
  'with no retention for cancelled jobs, the cancelled job is not returned');
select is(pgrun_tests.state(:gone_id), null, 'it is gone');
select results_eq(format('select state, last_error from pgrun.jobs where id = %s', :scheduled_id),
  $$values ('cancelled', 'cancelled: customer left')$$, 'jobs cancelled earlier keep their retention');

select finish();
rollback;
