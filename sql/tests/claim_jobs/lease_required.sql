begin;
select plan(10);
select pgrun_tests.reset();
select id as job_id from pgrun.add_job('t', run_at => now() - interval '1 minute') \gset

-- TEST: a worker that never registered may not claim (PGR02)
select throws_ok(format('select * from pgrun.claim_jobs(%L, 1)', pgrun_tests.worker(1)),
  'PGR02', format('worker %s is not registered; call register_worker first', pgrun_tests.worker(1)),
  'an unregistered worker is refused');

-- TEST: a registered worker whose last beat is older than its lease timeout may not claim (PGR02)
select pgrun_tests.register(2, now() - interval '21 seconds');
select throws_ok(format('select * from pgrun.claim_jobs(%L, 1)', pgrun_tests.worker(2)),
  'PGR02', format('worker %s has no live lease: its last heartbeat was at %s, more than %s ago',
                  pgrun_tests.worker(2), now() - interval '21 seconds', interval '20 seconds'),
  'a worker silent for longer than its lease timeout is refused');
select pgrun_tests.register(3, now() - interval '20 seconds');
select throws_ok(format('select * from pgrun.claim_jobs(%L, 1, now => now() + interval ''1 minute'')',
                        pgrun_tests.worker(3)),
  'PGR02', format('worker %s has no live lease: its last heartbeat was at %s, more than %s ago',
                  pgrun_tests.worker(3), now() - interval '20 seconds', interval '20 seconds'),
  'the lease is judged at the claim''s now');

-- TEST: at the timeout itself the lease is still live, and a beat renews it
select lives_ok(format('select * from pgrun.claim_jobs(%L, 1, array[''none''])', pgrun_tests.worker(3)),
  'a worker whose last beat is exactly its lease timeout old may claim');
select pgrun.heartbeat(pgrun_tests.worker(2));
select is((select id from pgrun_tests.claim(2)), :job_id::bigint, 'after a beat worker 2 claims again');

-- TEST: a reaped worker may not claim (PGR01): by an admin...
select pgrun.force_unlock_workers(array[pgrun_tests.worker(2)]);
select throws_ok(format('select * from pgrun.claim_jobs(%L, 1)', pgrun_tests.worker(2)),
  'PGR01', format('worker %s was presumed dead by an admin at %s and its jobs were released; register again under a new id',
                  pgrun_tests.worker(2), now()),
  'a worker force-unlocked by an admin is refused');

-- ...or by another worker
update pgrun._private_workers set reaped_at = now(), reaped_by = pgrun_tests.worker(4)
where worker_id = pgrun_tests.worker(3);
select throws_ok(format('select * from pgrun.claim_jobs(%L, 1)', pgrun_tests.worker(3)),
  'PGR01', format('worker %s was presumed dead by %s at %s and its jobs were released; register again under a new id',
                  pgrun_tests.worker(3), pgrun_tests.worker(4), now()),
  'a worker reaped by another is refused, and told by whom');

-- TEST: a worker registered by a schema-1 runner must stop (PGR03)
select pgrun_tests.register(5);
update pgrun._private_workers set protocol = 1 where worker_id = pgrun_tests.worker(5);
select throws_ok(format('select * from pgrun.claim_jobs(%L, 1)', pgrun_tests.worker(5)),
  'PGR03', format('pgrun''s schema was upgraded to schema 2 while worker %s ran; stop it and start a pgrun that supports schema 2',
                  pgrun_tests.worker(5)),
  'a schema-1 worker is told to stop');

-- TEST: refused claims took nothing
select results_eq(
  format('select state, attempts from pgrun.jobs where id = %s', :job_id),
  $$values ('available', 1::smallint)$$,
  'the job was released by the force-unlock and no refused claim took it');
select is((select count(*)::integer from pgrun.jobs where state = 'running'), 0, 'nothing runs');

select finish();
rollback;
