#!/usr/bin/env bash
# Redeem+Commit through the real server (Loyalty.Silo, started as a separate process on loopback ports) over
# gRPC/HTTP/2, beside pgbench on the same PostgreSQL (the connection string in LOYALTY_DB, else a temporary
# cluster that is started and deleted). The server is built next to the benchmark and run from there.
# Example: ./grpc-bench.sh --calls 64,256 --seconds 10 --csv grpc.csv --html grpc.html   (--help lists the options)
# Overload: ./grpc-bench.sh --overload   (full mailbox, full writer queue, stopped database; about a minute)
set -euo pipefail
exec dotnet run -c Release --project "$(dirname "$0")/benchmarks/Loyalty.GrpcBenchmarks" -- "$@"
