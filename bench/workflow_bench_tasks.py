"""The no-op task bench/workflows.py's workers run."""

from pgrun import task


@task
def noop(payload, helpers):
    return None
