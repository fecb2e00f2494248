#!/usr/bin/env bash
# Generates the Python modules of the retrieval.v1 API from
# proto/retrieval/v1/retrieval.proto: retrieval/v1/retrieval_pb2.py (the
# messages, protoc --python_out) and retrieval/v1/retrieval_pb2_grpc.py (the
# stub, Debian's grpc_python_plugin from protobuf-compiler-grpc). The
# generated code is not committed: it must match the protoc and protobuf
# runtime installed (python3-protobuf), so it is generated where it runs.
#
# Usage: client/python/generate_stubs.sh OUT_DIR
#   then: PYTHONPATH=OUT_DIR python3 client/python/retrieval_client.py ...
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
OUT=$1
PROTO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)/proto"
PLUGIN=$(command -v grpc_python_plugin || true)
if [[ -z "$PLUGIN" ]] || ! command -v protoc >/dev/null; then
  echo "generate_stubs: needs protoc and grpc_python_plugin (Debian packages" \
    "protobuf-compiler and protobuf-compiler-grpc; deploy/install_deps.sh installs them)" >&2
  exit 1
fi
mkdir -p "$OUT"
protoc --proto_path="$PROTO_ROOT" --python_out="$OUT" --grpc_python_out="$OUT" \
  --plugin=protoc-gen-grpc_python="$PLUGIN" retrieval/v1/retrieval.proto
