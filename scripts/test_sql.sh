#!/usr/bin/env bash
# Runs the pgTAP suite: installs pgrun into a fresh database of its own,
# runs every sql/tests/**/*.sql with pg_prove, then drops that database.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=postgres}"
export PGHOST PGPORT PGUSER
PYTHON=${PYTHON:-.venv/bin/python}
db="pgrun_sqltest_$$"

cleanup() { dropdb --if-exists "$db" >/dev/null 2>&1 || true; }
trap cleanup EXIT

createdb "$db"
psql -q -X -v ON_ERROR_STOP=1 -d "$db" -c 'create extension pgtap' >/dev/null
"$PYTHON" -m pgrun.cli migrate --connection "dbname=$db" >/dev/null
psql -q -X -v ON_ERROR_STOP=1 -d "$db" -f sql/tests/helpers.sql >/dev/null

mapfile -t files < <(find sql/tests -name '*.sql' ! -name helpers.sql | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no pgTAP test files found under sql/tests" >&2
  exit 1
fi
pg_prove --dbname "$db" --failures "${files[@]}"
