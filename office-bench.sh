#!/usr/bin/env bash
# Office register benchmark (issue 13): 50 drivers submit receipts to one office register through the
# real server (in-process, on a real PostgreSQL: LOYALTY_DB, else a temporary cluster started and
# deleted); the office adapter prints them on the emulated ATOL web server. Prints receipts/s and what
# the queue adds per receipt, as a table.
# Example: ./office-bench.sh --drivers 50 --receipts-per-driver 4 --print-ms 100
set -euo pipefail
exec dotnet run -c Release --project "$(dirname "$0")/benchmarks/Loyalty.OfficeBenchmarks" -- "$@"
