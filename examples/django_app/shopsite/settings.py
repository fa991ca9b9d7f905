"""Settings of the Django example: the database is DATABASE_URL (a URL or a libpq string)."""

import os

from psycopg.conninfo import conninfo_to_dict

_db = conninfo_to_dict(os.environ.get("DATABASE_URL", "dbname=pgrun_django_example"))

SECRET_KEY = "pgrun-example-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["shop", "pgrun.integrations.django"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.get("dbname", ""),
        "USER": _db.get("user", ""),
        "PASSWORD": _db.get("password", ""),
        "HOST": _db.get("host", ""),
        "PORT": _db.get("port", ""),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
