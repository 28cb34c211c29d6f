#!/usr/bin/env bash
# Starts the Loyalty server. Without LOYALTY_DB it runs a private PostgreSQL cluster in
# $LOYALTY_DATA_DIR/postgres (default ./.data/postgres). Stop it with Ctrl+C: in-flight writes are
# flushed and the embedded database is shut down cleanly.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/ensure-postgres.sh
export LOYALTY_DATA_DIR="${LOYALTY_DATA_DIR:-$PWD/.data}"
echo "Building..." >&2
dotnet build -c Release -v quiet -nologo Loyalty.Silo
# exec, so Ctrl+C and SIGTERM reach the server itself, which then shuts down cleanly.
exec dotnet Loyalty.Silo/bin/Release/net10.0/Loyalty.Silo.dll "$@"
