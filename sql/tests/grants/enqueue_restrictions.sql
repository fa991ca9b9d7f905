begin;
select plan(8);
select pgrun_tests.reset();

-- SETUP: role web may enqueue emails.* tasks named in its grant, into queues mail and tenant-*
create role pgrun_test_web;
select pgrun.grant_enqueue('pgrun_test_web', array['emails.send', 'emails.digest'], array['mail', 'tenant-*']);
set local role pgrun_test_web;

-- TEST: the tasks its grant names, and no others
select lives_ok($$select pgrun.add_job('emails.send')$$, 'a granted task is accepted');
select throws_ok($$select pgrun.add_job('billing.charge')$$, '42501',
  'role pgrun_test_web may not enqueue task ''billing.charge''', 'another task is refused');
select throws_ok($$select pgrun.add_jobs(array[row('emails.send', null, null, null, null, null, null, null, null, null)::pgrun.job_spec,
                                               row('billing.charge', null, null, null, null, null, null, null, null, null)::pgrun.job_spec])$$,
  '42501', 'role pgrun_test_web may not enqueue task ''billing.charge''', 'add_jobs refuses it too');

-- TEST: the queues its grant names, patterns ending in * included
select lives_ok($$select pgrun.add_job('emails.send', queue_name => 'mail')$$, 'queue mail is accepted');
select lives_ok($$select pgrun.add_job('emails.send', queue_name => 'tenant-42')$$, 'queue tenant-42 matches tenant-*');
select throws_ok($$select pgrun.add_job('emails.send', queue_name => 'admin')$$, '42501',
  'role pgrun_test_web may not enqueue into queue ''admin''', 'another queue is refused');
select throws_ok($$select pgrun.add_job('emails.send', queue_name => 'tenant')$$, '42501',
  'role pgrun_test_web may not enqueue into queue ''tenant''', 'the pattern''s prefix alone does not match');
reset role;

-- TEST: refused calls stored nothing
select is((select count(*)::integer from pgrun.jobs), 3, 'three jobs were added');

select finish();
rollback;
