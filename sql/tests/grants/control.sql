begin;
select plan(8);
select pgrun_tests.reset();

create role pgrun_test_read;
create role pgrun_test_worker;
create role pgrun_test_admin;
select pgrun.grant_read('pgrun_test_read');
select pgrun.grant_worker('pgrun_test_worker');
select pgrun.grant_admin('pgrun_test_admin');
select id as job_id from pgrun.add_job('t') \gset

-- TEST: admin: every control function
select ok(bool_and(has_function_privilege('pgrun_test_admin', f, 'execute')), 'admin may execute the control functions')
from unnest(array['pgrun.pause_queue(text)', 'pgrun.resume_queue(text)', 'pgrun.pause_task(text)',
                  'pgrun.resume_task(text)', 'pgrun.retry_jobs(bigint[])', 'pgrun.explain_job(bigint)']) as f;
select ok(has_table_privilege('pgrun_test_admin', 'pgrun.audit_log', 'select'), 'and read the audit log');

-- TEST: read: explain_job and the audit log, nothing that changes
select ok(not has_function_privilege('pgrun_test_read', 'pgrun.pause_queue(text)', 'execute'), 'read may not pause');
select ok(not has_function_privilege('pgrun_test_read', 'pgrun.retry_jobs(bigint[])', 'execute'), 'nor retry');
set local role pgrun_test_read;
select is((select state from pgrun.explain_job(:job_id)), 'available', 'read may explain a job');
select lives_ok($$select * from pgrun.audit_log$$, 'and read the audit log');
reset role;

-- TEST: worker: none of them
select ok(not has_function_privilege('pgrun_test_worker', 'pgrun.pause_task(text)', 'execute'), 'worker may not pause');
select ok(not has_function_privilege('pgrun_test_worker', 'pgrun.explain_job(bigint)', 'execute'),
  'nor explain (a runner has no need of it)');

select finish();
rollback;
