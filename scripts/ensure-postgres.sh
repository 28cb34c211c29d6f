#!/usr/bin/env bash
# Makes sure Debian's PostgreSQL server binaries are present (initdb, pg_ctl, pgbench). The
# server and the tests start their own private clusters from them; no system cluster is used.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin/initdb)." >&2
  echo "Install them as root: apt-get update && apt-get install -y postgresql" >&2
  exit 1
fi
echo "Installing PostgreSQL (Debian package postgresql)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
