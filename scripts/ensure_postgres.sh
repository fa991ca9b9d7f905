#!/usr/bin/env bash
# Makes sure the local PostgreSQL is up and pgTAP (extension + pg_prove) is
# installed. Installs from Debian's packages when something is missing.
set -euo pipefail

: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=postgres}"
export PGHOST PGPORT PGUSER

if ! pg_isready -q; then
  echo "PostgreSQL is not answering on $PGHOST:$PGPORT; starting the local cluster" >&2
  major=$(ls /etc/postgresql | sort -n | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$major" main start
  for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
  pg_isready -q || { echo "PostgreSQL did not start" >&2; exit 1; }
fi

major=$(psql -X -At -d postgres -c 'show server_version_num' | cut -c1-2)
if [ ! -f "/usr/share/postgresql/$major/extension/pgtap.control" ] || ! command -v pg_prove >/dev/null; then
  echo "installing pgTAP for PostgreSQL $major from Debian" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    "postgresql-$major-pgtap" libtap-parser-sourcehandler-pgtap-perl >/dev/null
fi

# the PgBouncer tests (tests/chaos/test_pgbouncer.py) start Debian's pgbouncer on a port of their own
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "installing pgbouncer from Debian" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pgbouncer >/dev/null
fi
