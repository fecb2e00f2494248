#!/usr/bin/env bash
# Checks the lock annotations (ABSL_GUARDED_BY and friends) with clang's
# -Wthread-safety: every C++ file that uses absl::Mutex, or includes a
# project header that does, is compiled with -fsyntax-only and any warning
# fails. GCC ignores the annotations, so this is the only check of them.
#
# Usage: tools/check_thread_safety.sh
# Needs the generated protobuf headers (bazel build //proto/... first; the
# README's test command builds them) and Debian's clang.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang++ >/dev/null || { echo "clang++ is needed (apt install clang)" >&2; exit 2; }
bin=bazel-bin
[[ -f "$bin/proto/retrieval/v1/retrieval.grpc.pb.h" ]] || {
  echo "generated headers missing under $bin/proto: run bazel build //proto/..." >&2
  exit 2
}
# Headers that use absl::Mutex, directly or through another such header
# (common/mutex.h, server/batch_queue.h, ...), then the sources that include
# any of them.
pattern='absl/synchronization/mutex.h'
while true; do
  mapfile -t headers < <(git ls-files '*.h' | xargs grep -lE "$pattern" | sort)
  next='absl/synchronization/mutex.h'
  for h in "${headers[@]}"; do next+="|\"$h\""; done
  [[ "$next" == "$pattern" ]] && break
  pattern=$next
done
mapfile -t sources < <(git ls-files '*.cc' | xargs grep -lE "$pattern" | sort)
failed=0
for f in "${sources[@]}"; do
  if ! clang++ -std=c++17 -fsyntax-only -Wthread-safety -Werror=thread-safety \
      -Wno-deprecated-declarations -Wno-unknown-warning-option \
      -I. -I"$bin" -I"$bin/proto" -I/usr/include/opencv4 \
      -I/usr/include/torch/csrc/api/include \
      -DCPPHTTPLIB_OPENSSL_SUPPORT -DCPPHTTPLIB_ZLIB_SUPPORT -DCPPHTTPLIB_BROTLI_SUPPORT \
      "$f"; then
    echo "thread-safety: $f" >&2
    failed=1
  fi
done
echo "thread-safety analysis: ${#sources[@]} files, $([[ $failed == 0 ]] && echo clean || echo FAILED)"
exit "$failed"
