#!/usr/bin/env bash
# The exit codes of the built binaries (common/exit_code.h, README "Exit
# codes"): 2 for an unknown flag, a missing or invalid flag and an unexpected
# argument, 0 for --help, 1 for work that fails.
set -uo pipefail
BIN="$TEST_SRCDIR/$TEST_WORKSPACE"
failed=0

# expect CODE BINARY ARGS...: runs BINARY (relative to the runfiles) and
# checks its exit status.
expect() {
  local want=$1 binary=$2
  shift 2
  "$BIN/$binary" "$@" >"$TEST_TMPDIR/out" 2>&1
  local got=$?
  if [[ $got -ne $want ]]; then
    echo "FAIL: $binary $* exited $got, expected $want; output:"
    head -20 "$TEST_TMPDIR/out"
    failed=1
  else
    echo "ok: $binary $* -> $got"
  fi
}

missing="$TEST_TMPDIR/does_not_exist"

expect 2 client/batch_client --no_such_flag=1
expect 2 client/batch_client --top_k=abc
expect 2 client/batch_client --output="$TEST_TMPDIR/sub.json"  # no --queries
expect 2 client/batch_client unexpected_argument
expect 0 client/batch_client --help
expect 2 client/loadgen --no_such_flag=1
expect 2 client/query --no_such_flag=1
expect 2 client/evaluate --no_such_flag=1
expect 2 client/evaluate  # nothing to do
expect 2 client/evaluate --predictions="$missing"  # no ground truth
expect 2 client/evaluate --predictions=x --labels=y unexpected_argument
expect 1 client/evaluate --predictions="$missing" --ground_truth="$missing"
expect 2 clip/clip_embed --no_such_flag=1
expect 2 clip/clip_embed --texts="$missing"  # no --weights, --output
expect 2 clip/clip_embed --weights=w --output=o --texts=t --precision=fp8
expect 1 clip/clip_embed --weights="$missing" --vocab="$missing" \
  --texts="$missing" --output="$TEST_TMPDIR/out.safetensors"
expect 2 server/retrieval_server --no_such_flag=1
expect 2 server/retrieval_server  # no --models_dir
expect 0 server/retrieval_server --helpfull

exit "$failed"
