#!/usr/bin/env bash
# Prepare the side-by-side benchmark kit (Graphile Worker, procrastinate, pgqueuer, pgbench).
#
# Copies the read-only kit (default: ../shared/bench next to the repository; override with
# BENCH_KIT_SRC=/path or as the first argument) into bench/.kit/ and runs its setup.sh there,
# which installs the anchors into bench/.kit/node/node_modules and bench/.kit/venv.
# Idempotent: a kit that is already set up is left alone (FORCE=1 copies the scripts again).
# Prints the kit directory on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="${1:-${BENCH_KIT_SRC:-$ROOT/../shared/bench}}"
DEST="$ROOT/bench/.kit"

ready() {
  [ -f "$DEST/node/node_modules/graphile-worker/package.json" ] && [ -x "$DEST/venv/bin/python" ] \
    && "$DEST/venv/bin/python" -c 'import procrastinate, pgqueuer' 2>/dev/null
}

if [ "${FORCE:-0}" != 1 ] && ready; then
  echo "kit already set up in $DEST" >&2
  echo "$DEST"
  exit 0
fi
[ -f "$SRC/setup.sh" ] || { echo "benchmark kit not found at $SRC (set BENCH_KIT_SRC)" >&2; exit 1; }
mkdir -p "$DEST"
# Copy the kit's files (not its installed anchors or results), writable for setup.sh.
(cd "$SRC" && tar --exclude=./node/node_modules --exclude=./venv --exclude=./results -cf - .) \
  | (cd "$DEST" && tar -xf - --no-same-owner)
chmod -R u+w "$DEST"
mkdir -p "$DEST/results"
echo "setting up the kit in $DEST (npm + pip, a few minutes the first time)" >&2
(cd "$DEST" && ./setup.sh) >&2
echo "$DEST"
