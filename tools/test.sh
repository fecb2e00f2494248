#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs every test.
#
# Usage: tools/test.sh [extra bazel test flags, e.g. --config=asan]
# This is the README's test command; CI (.ci/run) runs exactly this. Tests
# that compare against OpenAI's reference outputs read ../shared beside the
# checkout (or $RETRIEVAL_SHARED_DIR) and skip, saying so, without it.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install_deps.sh
if [[ -z "${RETRIEVAL_SHARED_DIR:-}" && -d ../shared ]]; then
  export RETRIEVAL_SHARED_DIR
  RETRIEVAL_SHARED_DIR=$(cd ../shared && pwd)
fi
log=$(mktemp)
status=0
bazel test //... "$@" 2>&1 | tee "$log" || status=$?
bazel shutdown
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|INCOMPLETE)' "$log" || true)
# Passed tests that skipped some of their cases (GoogleTest's GTEST_SKIP, e.g.
# without ../shared), from their logs.
# With ../shared present, a case that skipped for want of shared data means
# the data is there but was not found: that fails the run.
skipped=0
missing_shared=()
while read -r label; do
  test_log="bazel-testlogs/${label#//}"
  test_log="${test_log/://}/test.log"
  if grep -qE '^\[  SKIPPED \]' "$test_log" 2>/dev/null; then
    skipped=$((skipped + 1))
    if [[ -n "${RETRIEVAL_SHARED_DIR:-}" ]] && grep -q 'shared data missing' "$test_log"; then
      missing_shared+=("$label")
    fi
  fi
done < <(grep -E '^//[^ ]+ +(\(cached\) )?PASSED' "$log" | awk '{print $1}')
rm -f "$log"
echo "${passed} passed (${skipped} of them skipping some cases), ${failed} failed"
if [[ ${#missing_shared[@]} -gt 0 ]]; then
  echo "shared data is at $RETRIEVAL_SHARED_DIR, yet these tests skipped for want of it: ${missing_shared[*]}" >&2
  [[ $status -eq 0 ]] && status=1
fi
if [[ $status -eq 0 && $passed -eq 0 ]]; then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
