begin;
select plan(4);
select pgrun_tests.reset();

-- SETUP: audit rows of 100 days, 30 days and a minute ago
insert into pgrun._private_audit (at, role_name, action) values
  (now() - interval '100 days', current_user, 'old'), (now() - interval '30 days', current_user, 'recent'),
  (now() - interval '1 minute', current_user, 'new');

-- TEST: maintain removes rows older than audit_retention (default 90 days)
select results_eq($$select rows from pgrun.maintain() where task = 'audit pruned'$$, $$values (1)$$,
  'maintain prunes the audit row older than 90 days');
select results_eq($$select action from pgrun.audit_log order by at$$, $$values ('recent'), ('new')$$,
  'the others stay');

-- TEST: the setting decides
update pgrun._private_settings set value = '7 days' where name = 'audit_retention';
select pgrun.maintain();
select results_eq($$select action from pgrun.audit_log$$, $$values ('new')$$, 'a shorter retention prunes more');
update pgrun._private_settings set value = '' where name = 'audit_retention';
insert into pgrun._private_audit (at, role_name, action) values (now() - interval '10 years', current_user, 'ancient');
select pgrun.maintain();
select is((select count(*) from pgrun.audit_log), 2::bigint, 'an empty setting keeps every row');

select finish();
rollback;
