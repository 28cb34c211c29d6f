#!/usr/bin/env bash
# Commit-with-redeem benchmark: group commit against one commit per operation, on a real PostgreSQL
# (the connection string in LOYALTY_DB, else a temporary cluster that is started and deleted).
# Example: ./bench.sh --callers 16,64,256 --seconds 10 --csv bench.csv   (--help lists the options)
set -euo pipefail
exec dotnet run -c Release --project "$(dirname "$0")/benchmarks/Loyalty.Benchmarks" -- "$@"
