"""Chaos testing: private PostgreSQL clusters (cluster.py), the fault driver (driver.py),
and the PgBouncer and failover set-ups built on them. `python -m chaos` (from tests/)
runs the driver; the short runs are pytest files beside these modules."""
