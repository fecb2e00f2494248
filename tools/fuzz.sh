#!/usr/bin/env bash
# Builds the libFuzzer targets of //fuzz with clang (--config=fuzz: ASan and
# UBSan on all code) and fuzzes each for a while over a copy of its seed
# corpus (fuzz/corpus/<name>/).
#
# Usage: tools/fuzz.sh [seconds_per_target (default 60)] [name ...]
#   names are fuzz_target names of fuzz/BUILD (labels, manifest, ...);
#   default: all of them.
# Environment:
#   FUZZ_OUT     where the work corpora, logs and crashing inputs go
#                (default: a new directory under ${TMPDIR:-/tmp}).
#   BAZEL        the bazel command (default: bazel).
#   CLANG_OUTPUT_BASE  output base of the clang build (default:
#                $HOME/.cache/traffic-retrieval-clang), kept apart from the
#                gcc one so that neither invalidates the other.
# Prints the executions of each target; exits 1 when any target found a crash,
# a sanitizer report, a leak, a timeout or an out-of-memory. Crashing inputs
# are saved as $FUZZ_OUT/findings/<name>/crash-* (libFuzzer's names); to
# reproduce one, run the fuzz binary on it, then add it to the corpus once
# fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
BAZEL=${BAZEL:-bazel}
clang_base=${CLANG_OUTPUT_BASE:-$HOME/.cache/traffic-retrieval-clang}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/traffic-fuzz.XXXXXX")}
mkdir -p "$out"

if [[ $# -gt 0 ]]; then
  names=("$@")
else
  # The name of every fuzz_target(...) in fuzz/BUILD.
  mapfile -t names < <(awk '/^fuzz_target\(/ {t = 1} t && /name = / {
      gsub(/[",]/, "", $3); print $3; t = 0 }' fuzz/BUILD)
fi
targets=()
for name in "${names[@]}"; do targets+=("//fuzz:${name}_fuzzer"); done

# No convenience links (--symlink_prefix=/): links into the clang output
# base would replace bazel-out and would be read as packages by a later
# `bazel test //...` of the default build. The binaries are found with
# `bazel info` instead.
$BAZEL --output_base="$clang_base" build --config=fuzz \
    --symlink_prefix=/ "${targets[@]}"
bin=$($BAZEL --output_base="$clang_base" info --config=fuzz bazel-bin)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
summary=()
for name in "${names[@]}"; do
  corpus="$out/corpus/$name"
  findings="$out/findings/$name"
  mkdir -p "$corpus" "$findings"
  cp -r "fuzz/corpus/$name/." "$corpus/"
  log="$out/$name.log"
  echo "fuzzing $name for ${seconds}s (log: $log)"
  status=0
  "$bin/fuzz/${name}_fuzzer" -max_total_time="$seconds" -timeout=25 \
      -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  units=$(find "$corpus" -type f | wc -l)
  if [[ $status -ne 0 ]]; then
    failed+=("$name")
    summary+=("$name: FINDING after ${execs:-?} executions (exit $status): $(ls "$findings" | head -3 | tr '\n' ' ')")
    grep -m1 -E 'ERROR: |invariant violated|runtime error' "$log" || tail -5 "$log"
  else
    summary+=("$name: ${execs:-?} executions, corpus ${units} inputs, no finding")
  fi
done
$BAZEL --output_base="$clang_base" shutdown
echo
printf '%s\n' "${summary[@]}"
echo "work corpora, logs and findings: $out"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "findings in: ${failed[*]}" >&2
  exit 1
fi
