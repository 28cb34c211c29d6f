#!/usr/bin/env bash
# Offline exchange benchmark: every card exported into a Кассир 5 catalog file (at a fifth of the
# cards and at all of them: time and peak memory) and one closed shift's report reconciled, on a real
# PostgreSQL (LOYALTY_DB, else a temporary cluster started and deleted), beside pgbench.
# Example: ./exchange-bench.sh --cards 1000000 --receipts 10000 --csv exchange.csv --html exchange.html
set -euo pipefail
exec dotnet run -c Release --project "$(dirname "$0")/benchmarks/Loyalty.ExchangeBenchmarks" -- "$@"
