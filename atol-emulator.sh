#!/usr/bin/env bash
# An emulated ATOL web server (REST API v2, tests/Loyalty.AtolEmulator) on 127.0.0.1 only, for trying
# the office adapter without a register: prints its URL, then a line per fiscal document (FD, total);
# Ctrl+C or SIGTERM stops it. Nothing it prints is fiscal.
# Example: ./atol-emulator.sh --port 16732 --print-ms 500
#          ./loyalty office run --atol http://127.0.0.1:16732/ --store S --register R
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
# Built quietly each time (a second when up to date); the build's output is shown only if it fails.
if ! BUILD="$(dotnet build -c Release -v quiet -nologo "$ROOT/tools/Loyalty.AtolEmulatorHost" 2>&1)"; then echo "$BUILD" >&2; exit 1; fi
# exec the program itself (not `dotnet run`), so SIGTERM sent to this script's pid reaches it.
exec dotnet "$ROOT/tools/Loyalty.AtolEmulatorHost/bin/Release/net10.0/Loyalty.AtolEmulatorHost.dll" "$@"
