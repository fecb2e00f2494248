#!/usr/bin/env bash
# Runs tests under the sanitizer builds of .bazelrc.
#
# Usage: tools/sanitize.sh [asan|ubsan|asan-ubsan|tsan|all] [targets] [flags]
#   targets (//...) replace the default targets below; other arguments are
#   passed to bazel test.
#   asan, ubsan, asan-ubsan  AddressSanitizer and/or UndefinedBehaviorSanitizer
#                            (gcc) over the whole test suite, //...;
#                            asan-ubsan builds once for both.
#   tsan                     ThreadSanitizer (gcc) over the server and client
#                            tests: //server/... //client/...
#                            //tests:server_e2e_test //tests:rest_gateway_test
#                            (suppressions: tools/tsan.supp).
#   all (default)            asan-ubsan, then tsan.
# Each configuration has its own output directory (--platform_suffix), so
# they do not evict each other or the default build. Like tools/test.sh, the
# tests read ../shared (or $RETRIEVAL_SHARED_DIR) when present. BAZEL names
# the bazel command (default: bazel). Exits non-zero when any test fails; the
# sanitizer reports are in the failing tests' logs (bazel-testlogs/).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
shift || true
BAZEL=${BAZEL:-bazel}
if [[ -z "${RETRIEVAL_SHARED_DIR:-}" && -d ../shared ]]; then
  export RETRIEVAL_SHARED_DIR
  RETRIEVAL_SHARED_DIR=$(cd ../shared && pwd)
fi
tsan_targets=(//server/... //client/... //tests:server_e2e_test //tests:rest_gateway_test)
# The tests run in their runfiles tree, so the suppressions go by absolute
# path. ignore_noninstrumented_modules: memcpy and the other interceptors
# report races only when called from instrumented code. gRPC's own threads
# copy strings through libstdc++ (not instrumented) out of memory that the
# calling thread filled before handing it over through gRPC's (invisible)
# atomics; such a report has no frame to suppress it by.
tsan_flags=("--test_env=TSAN_OPTIONS=second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$PWD/tools/tsan.supp")

run() {  # config, targets...
  local config=$1
  shift
  echo "== --config=$config: $*"
  local start=$SECONDS
  local status=0
  $BAZEL test --config="$config" --keep_going "${extra[@]}" "$@" || status=$?
  echo "== --config=$config: exit $status after $((SECONDS - start)) s"
  return "$status"
}

extra=()
targets=()
for arg in "$@"; do
  if [[ $arg == //* ]]; then targets+=("$arg"); else extra+=("$arg"); fi
done
suite_targets=(//...)
if [[ ${#targets[@]} -gt 0 ]]; then
  suite_targets=("${targets[@]}")
  tsan_targets=("${targets[@]}")
fi
status=0
case "$mode" in
  asan | ubsan | asan-ubsan) run "$mode" "${suite_targets[@]}" || status=$? ;;
  tsan) run tsan "${tsan_flags[@]}" "${tsan_targets[@]}" || status=$? ;;
  all)
    run asan-ubsan "${suite_targets[@]}" || status=$?
    run tsan "${tsan_flags[@]}" "${tsan_targets[@]}" || status=$?
    ;;
  *)
    echo "usage: $0 [asan|ubsan|asan-ubsan|tsan|all] [bazel flags]" >&2
    exit 2
    ;;
esac
$BAZEL shutdown
exit "$status"
