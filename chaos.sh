#!/usr/bin/env bash
# The reliability harness: a private PostgreSQL and three servers (Loyalty.Silo processes) on 127.0.0.1,
# a POS workload through all of them with retries under the same operation ids, and faults meanwhile:
# kill -9 of a server, PostgreSQL stopped fast, crashed and frozen, a server restarted while PostgreSQL is
# down, terminals walking away mid-call. At the end
# the ledger is checked against every answer; the exit code is 0 only if every invariant holds.
# Example: ./chaos.sh --seconds 180 --seed 1 --csv chaos.csv --html chaos.html   (--help lists the options)
set -euo pipefail
cd "$(dirname "$0")"
./scripts/ensure-postgres.sh
dotnet build -c Release -nologo -v quiet tools/Loyalty.Chaos >&2
exec dotnet tools/Loyalty.Chaos/bin/Release/net10.0/Loyalty.Chaos.dll "$@"
