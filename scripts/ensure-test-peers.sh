#!/usr/bin/env bash
# Installs the independent gRPC clients the conformance tests run against the server:
# @grpc/grpc-js and @grpc/proto-loader from npm (pinned by tests/conformance/node/package-lock.json)
# and Debian's python3-grpcio (for /usr/bin/python3). Does nothing when they are there already.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_SUITE=tests/conformance/node
if [ ! -d "$NODE_SUITE/node_modules/@grpc/grpc-js" ] || [ ! -d "$NODE_SUITE/node_modules/@grpc/proto-loader" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing; install Node.js and npm (Debian: apt-get install -y nodejs npm)." >&2
    exit 1
  fi
  echo "Installing @grpc/grpc-js for the conformance tests (npm ci)..." >&2
  (cd "$NODE_SUITE" && npm ci --no-audit --no-fund --loglevel=error)
fi
if ! /usr/bin/python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "/usr/bin/python3 cannot import grpc; as root: apt-get update && apt-get install -y python3-grpcio" >&2
    exit 1
  fi
  echo "Installing python3-grpcio for the conformance tests..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq python3-grpcio >/dev/null
fi
# The accountant's web pages are tested in a real browser: Debian's headless chromium, driven by
# Selenium.WebDriver through Debian's chromium-driver (the same version as the browser).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "chromium or chromedriver is missing; as root: apt-get update && apt-get install -y chromium chromium-driver" >&2
    exit 1
  fi
  echo "Installing chromium and chromium-driver for the web page tests..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi
