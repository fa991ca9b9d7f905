"""Django: enqueue in Django's transaction, and run a worker with `manage.py pgrun_worker`.

    INSTALLED_APPS = [..., "pgrun.integrations.django"]     # for the management command

    from django.db import transaction
    from pgrun.integrations.django import add_job

    with transaction.atomic():
        order = Order.objects.create(...)
        add_job("orders.confirm", {"order": order.id})       # exists only if the order commits

    $ python manage.py pgrun_worker --tasks shop.tasks [--concurrency 10] [--once]

Needs Django's PostgreSQL backend on psycopg 3 (Django 4.2 and later use it when it is
installed). The worker connects with the same settings as Django (DATABASES[using]).
"""

from __future__ import annotations

from typing import Any

from ... import db, utils
from ...errors import ConfigurationError
from ...job import Job


def _connection(using: str):
    from django.db import connections

    wrapper = connections[using]
    if wrapper.vendor != "postgresql":
        raise ConfigurationError(f"database {using!r} is {wrapper.vendor}, not PostgreSQL")
    wrapper.ensure_connection()
    raw = wrapper.connection
    if not isinstance(raw, db.Connection):
        raise ConfigurationError("pgrun enqueues through psycopg 3; Django's connection is a "
                                 f"{type(raw).__module__}.{type(raw).__name__} (install psycopg 3)")
    return raw


def add_job(identifier: Any, payload: Any = None, *, using: str = "default", **options: Any) -> Job:
    """pgrun.add_job (same options) on Django's connection `using`: inside transaction.atomic()
    it commits or rolls back with the rest; in autocommit it is added at once."""
    return utils.add_job(_connection(using), identifier, payload, **options)


def conninfo(using: str = "default") -> str:
    """A libpq connection string for the database Django uses as `using` (for a worker)."""
    from django.db import connections

    params = connections[using].get_connection_params()
    keep = {k: str(v) for k, v in params.items()
            if k in ("dbname", "user", "password", "host", "port", "sslmode", "options", "application_name")
            and v not in (None, "")}
    return db.make_conninfo(**keep)
