#!/usr/bin/env bash
# Validates deploy/k8s/*.yaml against the Kubernetes API schemas (the npm
# package kubernetes-models, pinned by tests/k8s_schema/package-lock.json),
# then checks that known mistakes are reported.
#
# Usage: tests/k8s_schema_test.sh
# Needs node and npm (Debian: nodejs, npm). The packages are installed with
# `npm ci` from the npm registry into $K8S_SCHEMA_CACHE (default
# /var/tmp/traffic-retrieval-k8s-schema) once; later runs are offline.
# Exit status: 0 valid, 1 invalid or a step failed, 77 skipped (no node/npm).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SRC="$ROOT/tests/k8s_schema"
CACHE=${K8S_SCHEMA_CACHE:-/var/tmp/traffic-retrieval-k8s-schema}

command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "SKIP: k8s_schema_test: node and npm are not installed" >&2; exit 77; }

# Reinstall only when the lock file changed.
lock_sum=$(sha256sum "$SRC/package-lock.json" | cut -d' ' -f1)
if [[ "$(cat "$CACHE/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]]; then
  mkdir -p "$(dirname "$CACHE")"
  staging=$(mktemp -d "$CACHE.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  cp "$SRC/package.json" "$SRC/package-lock.json" "$staging/"
  (cd "$staging" && npm ci --no-audit --no-fund --ignore-scripts >&2) ||
    { echo "FAIL: k8s_schema_test: npm ci failed" >&2; exit 1; }
  echo "$lock_sum" >"$staging/.lock-sha256"
  rm -rf "$CACHE.old"
  [[ -d "$CACHE" ]] && mv "$CACHE" "$CACHE.old"
  mv "$staging" "$CACHE"
  rm -rf "$CACHE.old"
  trap - EXIT
fi
cp "$SRC/validate.mjs" "$CACHE/validate.mjs.tmp"
mv "$CACHE/validate.mjs.tmp" "$CACHE/validate.mjs"

node "$CACHE/validate.mjs" deploy/k8s/*.yaml ||
  { echo "FAIL: k8s_schema_test: deploy/k8s does not match the API schemas" >&2; exit 1; }

# Each mistake, made in a copy, must be reported as invalid.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mutate() {  # description file old new
  local desc=$1 file=$2 old=$3 new=$4 copy
  copy="$tmp/$(basename "$2")"
  python3 - "$file" "$copy" "$old" "$new" <<'PY' || { echo "FAIL: mutation '$desc': text not found in $file" >&2; return 1; }
import sys
src, dst, old, new = sys.argv[1:]
text = open(src, encoding="utf-8").read()
if old not in text:
    sys.exit(1)
open(dst, "w", encoding="utf-8").write(text.replace(old, new, 1))
PY
  if node "$CACHE/validate.mjs" "$copy" >"$tmp/out" 2>&1; then
    echo "FAIL: mutation '$desc' was not reported:" >&2
    cat "$tmp/out" >&2
    return 1
  fi
}
status=0
mutate "gRPC probe port as text" deploy/k8s/server-deployment.yaml "              port: 8500" "              port: grpc" || status=1
mutate "unknown restart policy" deploy/k8s/export-job.yaml "restartPolicy: Never" "restartPolicy: Sometimes" || status=1
mutate "container without a name" deploy/k8s/server-deployment.yaml "        - name: server" "        - imagePullPolicy: IfNotPresent" || status=1
mutate "port number as text" deploy/k8s/server-service.yaml "port: 8500" "port: grpc-port" || status=1
mutate "containerPort as text" deploy/k8s/server-deployment.yaml "containerPort: 8080" "containerPort: http" || status=1
mutate "unknown apiVersion" deploy/k8s/server-hpa.yaml "apiVersion: autoscaling/v2" "apiVersion: autoscaling/v3" || status=1
mutate "PyTorchJob container without a name" deploy/k8s/train-pytorchjob.yaml "- name: pytorch" "- imagePullPolicy: IfNotPresent" || status=1
((status == 0)) || exit 1
echo "k8s_schema_test: deploy/k8s matches the Kubernetes API schemas; 7 mutations reported"
