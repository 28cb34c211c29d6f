#!/usr/bin/env bash
# Runs both conformance suites (@grpc/grpc-js and python3-grpcio) against a running server.
#
#   tests/conformance/run.sh 127.0.0.1:5001 /path/to/data/admin.key
#
# Run as root, it first installs what is missing (npm ci in node/, Debian's python3-grpcio).
# Exits 0 only when every check of both suites passed.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 SERVER_ADDR(host:port) ADMIN_KEY_FILE" >&2
  exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROTOS="$(cd "$HERE/../../protos" && pwd)"
export LOYALTY_GRPC_ADDR="$1"
if [ ! -r "$2" ]; then
  echo "cannot read the admin key file $2" >&2
  exit 2
fi
LOYALTY_ADMIN_KEY="$(tr -d '[:space:]' < "$2")"
export LOYALTY_ADMIN_KEY
PY=/usr/bin/python3
IS_ROOT=0; [ "$(id -u)" -eq 0 ] && IS_ROOT=1

# ---- what the suites need -------------------------------------------------------------------

if [ ! -d "$HERE/node/node_modules/@grpc/grpc-js" ] || [ ! -d "$HERE/node/node_modules/@grpc/proto-loader" ]; then
  echo "# npm ci in $HERE/node"
  (cd "$HERE/node" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed" >&2; exit 2; }
fi

if ! "$PY" -c 'import grpc, google.protobuf' 2>/dev/null; then
  if [ "$IS_ROOT" -eq 1 ]; then
    echo "# apt-get install python3-grpcio"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-grpcio) >/dev/null \
      || { echo "apt-get install python3-grpcio failed" >&2; exit 2; }
  else
    echo "$PY cannot import grpc: install Debian's python3-grpcio (as root: apt-get install -y python3-grpcio)" >&2
    exit 2
  fi
fi

# The Python suite builds its messages from a FileDescriptorSet made by the protoc of the
# Grpc.Tools NuGet package (no grpcio-tools here). $PROTOC overrides.
case "$(uname -m)" in aarch64|arm64) ARCH=linux_arm64 ;; *) ARCH=linux_x64 ;; esac
NUGET="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
TOOLS="$(ls -d "$NUGET"/grpc.tools/*/ 2>/dev/null | sort -V | tail -n 1)"
PROTOC="${PROTOC:-${TOOLS}tools/$ARCH/protoc}"
if [ ! -x "$PROTOC" ]; then
  echo "no protoc at '$PROTOC': run 'dotnet restore' (Grpc.Tools) or set PROTOC" >&2
  exit 2
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
INCLUDES=(-I "$PROTOS")
[ -n "$TOOLS" ] && [ -d "${TOOLS}build/native/include" ] && INCLUDES+=(-I "${TOOLS}build/native/include")
(cd "$PROTOS" && "$PROTOC" "${INCLUDES[@]}" --include_imports --descriptor_set_out="$WORK/loyalty.pb" \
  loyalty/v1/cards.proto loyalty/v1/admin.proto loyalty/v1/fiscal.proto grpc/health/v1/health.proto grpc/reflection/v1/reflection.proto) \
  || { echo "protoc failed to build the descriptor set" >&2; exit 2; }

# ---- the suites -----------------------------------------------------------------------------

echo "=== @grpc/grpc-js suite ==="
node "$HERE/node/conformance.js"
NODE_RC=$?
echo
echo "=== python3-grpcio suite ==="
"$PY" "$HERE/python/conformance.py" --descriptor-set "$WORK/loyalty.pb"
PY_RC=$?
echo
echo "=== conformance: node $([ $NODE_RC -eq 0 ] && echo passed || echo "FAILED (rc $NODE_RC)"), python $([ $PY_RC -eq 0 ] && echo passed || echo "FAILED (rc $PY_RC)") ==="
[ $NODE_RC -eq 0 ] && [ $PY_RC -eq 0 ]
