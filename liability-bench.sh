#!/usr/bin/env bash
# Bonus liability statement benchmark: N ledger rows filled straight in SQL on a real PostgreSQL
# (LOYALTY_DB, else a temporary cluster started and deleted), the statement timed from the daily
# summary (ledger_days) and once straight from the ledger, the summary checked against the ledger.
# Example: ./liability-bench.sh --rows 10000000 --cards 100000 --csv liability.csv
set -euo pipefail
exec dotnet run -c Release --project "$(dirname "$0")/benchmarks/Loyalty.LiabilityBenchmarks" -- "$@"
