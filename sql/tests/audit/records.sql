begin;
select plan(6);
select pgrun_tests.reset();
select pgrun_tests.register(1);
set local application_name = 'audit-test';

-- SETUP: one call of every admin function
select id as a_id from pgrun.add_job('t', job_key => 'a') \gset
select id as b_id from pgrun.add_job('t') \gset
select id as c_id from pgrun.add_job('t') \gset
select id as d_id from pgrun.add_job('t', job_key => 'd') \gset
select pgrun.cancel_jobs(array[:a_id]::bigint[], 'why not');
select pgrun.retry_jobs(array[:a_id]::bigint[]);
select pgrun.reschedule_jobs(array[:b_id]::bigint[], priority => 3);
select pgrun.permanently_fail_jobs(array[:b_id]::bigint[], 'gave up');
select pgrun.complete_jobs(array[:c_id]::bigint[]);
select pgrun.remove_job('d');
select pgrun.pause_queue('q'), pgrun.resume_queue('q'), pgrun.pause_task('t'), pgrun.resume_task('t');
select pgrun.force_unlock_workers(array[pgrun_tests.worker(1)]);
select pgrun.set_retention(interval '1 day', null, null, task_identifier => 't');
select pgrun.remove_retention(task_identifier => 't');

-- TEST: each records what it did and to which targets
select results_eq($$select action, targets from pgrun.audit_log order by id$$,
  format($$values ('cancel_jobs', array['%1$s']), ('retry_jobs', array['%1$s']), ('reschedule_jobs', array['%2$s']),
                  ('permanently_fail_jobs', array['%2$s']), ('complete_jobs', array['%3$s']), ('remove_job', array['d']),
                  ('pause_queue', array['q']), ('resume_queue', array['q']), ('pause_task', array['t']),
                  ('resume_task', array['t']), ('force_unlock_workers', array['%4$s']), ('set_retention', array['t']),
                  ('remove_retention', array['t'])$$, :a_id, :b_id, :c_id, pgrun_tests.worker(1)),
  'one row per action, with its targets');

-- TEST: with the arguments that shaped it
select is((select arguments from pgrun.audit_log where action = 'cancel_jobs'),
  jsonb_build_object('reason', 'why not', 'marked', array[:a_id]), 'cancel_jobs: its reason and what it marked');
select is((select arguments ->> 'priority' from pgrun.audit_log where action = 'reschedule_jobs'), '3',
  'reschedule_jobs: the fields it changed');
select is((select arguments -> 'removed' from pgrun.audit_log where action = 'remove_job'), to_jsonb(:d_id),
  'remove_job: the job it removed');

-- TEST: who: the role, the login role when it differs, the application
select is((select string_agg(distinct format('%s|%s|%s|%s', role_name, session_role, application, at = now()), ',')
           from pgrun.audit_log),
  format('%s||audit-test|t', current_user),
  'the role, no session role (the same), the application_name, the transaction''s time');
create role pgrun_test_auditor;
select pgrun.grant_admin('pgrun_test_auditor');
set local role pgrun_test_auditor;
select pgrun.pause_queue('q');
reset role;
select is((select format('%s|%s', role_name, session_role) from pgrun.audit_log order by id desc limit 1),
  format('pgrun_test_auditor|%s', session_user), 'under SET ROLE, both roles are recorded');

select finish();
rollback;
