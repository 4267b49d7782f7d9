#!/usr/bin/env bash
# The whole test suite on real components: a throwaway PostGIS cluster on loopback, headless Chromium.
# Called by `make test` (and so by .ci/run). Installs missing Debian packages when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${need[*]} (Debian packages)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  else
    echo "!! missing Debian packages: ${need[*]} - run: sudo apt-get install ${need[*]}" >&2
  fi
fi

PGDIR=${NTPD_TEST_PG_DIR:-/tmp/ntpd-pg-$$}
if [ -z "${NTPD_TEST_DATABASE_URL:-}" ]; then
  # a free loopback port, so a cluster left running elsewhere never collides with this one
  PGPORT_FREE=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  NTPD_TEST_DATABASE_URL=$(bash scripts/pg_cluster.sh start "$PGDIR" "$PGPORT_FREE" | tail -n 1)
  export NTPD_TEST_DATABASE_URL NTPD_TEST_PG_DIR=$PGDIR
  trap 'bash scripts/pg_cluster.sh stop "$PGDIR" >/dev/null 2>&1 || true' EXIT
fi
echo "== PostGIS for the contract suite: ${NTPD_TEST_DATABASE_URL}"

echo "== ruff"
"$BIN/ruff" check .
echo "== mypy"
"$BIN/mypy" ntpd_map layers
echo "== pytest"
mkdir -p artifacts
"$BIN/python" -m pytest "$@"
