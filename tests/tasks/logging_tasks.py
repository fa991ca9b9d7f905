"""Tasks that log in every way a handler can, for tests/test_logs.py."""

import logging

from pgrun import task

log = logging.getLogger("myapp.tasks")


@task("log.async")
async def log_async(payload, helpers):
    helpers.logger.info("through helpers.logger")
    log.info("through the module's own logger")
    await helpers.add_job("log.plain", {"from": "log.async"})   # carries the correlation id on


@task("log.plain")
def log_plain(payload, helpers):
    log.warning("from a plain handler's thread")
    logging.getLogger().info("through the root logger")


@task("log.fails")
def log_fails(payload, helpers):
    raise RuntimeError("a failure with a traceback")


@task("log.isolated", isolation="process")
def log_isolated(payload, helpers):
    helpers.logger.info("from a child process")
    helpers.add_job("log.after_child", {})   # carries the correlation id on, from the child too


@task("log.after_child")
def log_after_child(payload, helpers):
    log.info("after the child process")
