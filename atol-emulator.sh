#!/usr/bin/env bash
# An emulated ATOL web server (REST API v2) on 127.0.0.1, for trying the office adapter without a
# register: prints its URL, then a line per fiscal document (FD, total); Ctrl+C stops it.
# Example: ./atol-emulator.sh --port 16732 --print-ms 500
#          ./loyalty office run --atol http://127.0.0.1:16732/ --store S --register R
set -euo pipefail
exec dotnet run -c Release --project "$(dirname "$0")/tools/Loyalty.AtolEmulatorHost" -- "$@"
