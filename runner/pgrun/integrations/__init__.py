"""Enqueueing inside an application's own transaction, from the connection kinds applications
use: psycopg (pgrun.add_job(conn, ...) itself), SQLAlchemy (integrations.sqlalchemy) and Django
(integrations.django, also a Django app with a `pgrun_worker` management command). Each runs
pgrun's add_job on the very connection the application's transaction is on, so the job exists
only if that transaction commits."""
