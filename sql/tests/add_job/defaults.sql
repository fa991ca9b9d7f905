begin;
select plan(6);
select pgrun_tests.reset();

-- TEST: a job added with only an identifier takes Graphile Worker's defaults
select pgrun.add_job('send_email');

select is((select payload::text from pgrun.jobs), '{}', 'payload defaults to {}');
select is((select max_attempts from pgrun.jobs), 25::smallint, 'max_attempts defaults to 25');
select is((select priority from pgrun.jobs), 0::smallint, 'priority defaults to 0');
select is((select run_at from pgrun.jobs), now(), 'run_at defaults to now()');
select is((select attempts from pgrun.jobs), 0::smallint, 'attempts start at 0');
select is((select queue_name from pgrun.jobs), null, 'no queue by default');

select finish();
rollback;
