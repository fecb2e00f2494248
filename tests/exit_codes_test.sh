#!/usr/bin/env bash
# The exit codes of the built binaries (common/exit_code.h, README "Exit
# codes"): 2 for an unknown flag, a missing or invalid flag and an unexpected
# argument, 0 for --help, 1 for work that fails; launch passes on the
# first failing child's code.
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
expect 2 client/query --server=127.0.0.1:1 --text=x --category=sideways
expect 2 client/evaluate --no_such_flag=1
expect 2 client/evaluate  # nothing to do
expect 2 client/evaluate --predictions="$missing"  # no ground truth
expect 2 client/evaluate --predictions=x --labels=y unexpected_argument
expect 1 client/evaluate --predictions="$missing" --ground_truth="$missing"
expect 2 client/evaluate --predictions=x --ground_truth=y \
  --attribute_chart="$TEST_TMPDIR/chart.png"  # the chart needs --labels
expect 2 client/evaluate --predictions=x --labels=y \
  --attribute_chart="$TEST_TMPDIR/chart.jpg"  # PNG only
expect 2 clip/clip_embed --no_such_flag=1
expect 2 clip/clip_embed --texts="$missing"  # no --weights, --output
expect 2 clip/clip_embed --weights=w --output=o --texts=t --precision=fp8
expect 1 clip/clip_embed --weights="$missing" --vocab="$missing" \
  --texts="$missing" --output="$TEST_TMPDIR/out.safetensors"
expect 2 server/retrieval_server --no_such_flag=1
expect 2 server/retrieval_server  # no --models_dir
expect 2 server/retrieval_server --models_dir="$TEST_TMPDIR" --rerank_candidates=1001
expect 2 server/retrieval_server --models_dir="$TEST_TMPDIR" --rerank_weights=colour=1
expect 0 server/retrieval_server --helpfull
expect 2 trainer/train --no_such_flag=1
expect 2 trainer/train --output_dir="$TEST_TMPDIR/run"  # no --data_dir
expect 1 trainer/train --data_dir="$missing" --output_dir="$TEST_TMPDIR/run"
expect 0 trainer/train --help
expect 2 trainer/launch --nproc_per_node=1  # no program after --
expect 2 trainer/launch --nproc_per_node=0 -- /bin/true
expect 3 trainer/launch --nproc_per_node=1 -- /bin/sh -c 'exit 3'  # the child's code
expect 2 datagen/datagen --no_such_flag=1
expect 2 exporter/export --no_such_flag=1
expect 2 exporter/export  # no --weights

exit "$failed"
