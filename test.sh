#!/usr/bin/env bash
# Runs every test against real PostgreSQL: each test class gets its own database in a private
# cluster the test process starts (or on the server in LOYALTY_TEST_DB, if set). The gRPC
# conformance tests also need @grpc/grpc-js (npm) and python3-grpcio (Debian): installed first.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/ensure-postgres.sh
./scripts/ensure-test-peers.sh
echo "Building..." >&2
dotnet build -c Release -nologo -v quiet Loyalty.sln
dotnet test Loyalty.sln -c Release --no-build -nologo --logger "console;verbosity=normal" "$@"
