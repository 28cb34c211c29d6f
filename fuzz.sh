#!/usr/bin/env bash
# Hostile input against the real server (Loyalty.Silo, started as a separate process on loopback ports with a
# database of its own: LOYALTY_DB if set, else a temporary cluster): random HTTP/2 frames, mutated gRPC
# requests, hostile contents, huge headers, slow clients, thousands of idle connections, one key over its rate.
# Exits non-zero if the server died, answered improperly or its memory went over the bound.
# Example: ./fuzz.sh --seed 1 --seconds 10 --csv fuzz.csv   (--help lists the options)
set -euo pipefail
exec dotnet run -c Release --project "$(dirname "$0")/tools/Loyalty.Fuzz" -- "$@"
