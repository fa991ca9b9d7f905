"""`python manage.py pgrun_worker --tasks shop.tasks`: a pgrun worker on Django's database."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from pgrun.cli import run_worker
from pgrun.integrations.django import conninfo
from pgrun.logs import FORMATS, LEVELS, setup_logging


class Command(BaseCommand):
    help = "Runs a pgrun worker with Django's database settings (SIGTERM/SIGINT stop it gracefully)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tasks", required=True, help="the task module, e.g. shop.tasks")
        parser.add_argument("--database", default="default", help="the DATABASES entry to use")
        parser.add_argument("--schema", default="pgrun")
        parser.add_argument("--concurrency", type=int, default=10)
        parser.add_argument("--once", action="store_true", help="run until no job is runnable, then exit")
        parser.add_argument("--crontab", default=None)
        parser.add_argument("--log-level", default="info", choices=LEVELS)
        parser.add_argument("--log-format", default="text", choices=FORMATS)

    def handle(self, *args, **options) -> None:
        setup_logging(options["log_level"], log_format=options["log_format"])
        code = run_worker(options["tasks"], connection=conninfo(options["database"]),
                          schema=options["schema"], concurrency=options["concurrency"], once=options["once"],
                          crontab=options["crontab"])
        if code:
            sys.exit(code)
