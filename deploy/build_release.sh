#!/usr/bin/env bash
# Builds the release binaries and copies them into OUT_DIR.
#
# Usage: deploy/build_release.sh OUT_DIR [extra bazel build flags]
#   deploy/build_release.sh /opt/retrieval/bin
#   deploy/build_release.sh /out/bin --config=cuda   # needs LIBTORCH_CUDA_PREFIX,
#                                                    # FAISS_CUDA_PREFIX, CUDA_HOME
#
# The one way release binaries are built: both container images
# (deploy/docker/Dockerfile, Dockerfile.cuda) run exactly this script, so a
# green CI build of these targets means the images build the same thing.
# Installs the dependencies (deploy/install_deps.sh), builds TARGETS with the
# flags of .bazelrc plus the extra flags, copies one executable per target into
# OUT_DIR (named after the target), and stops the Bazel server. Exits non-zero
# when any step fails; OUT_DIR then holds no partial set of new binaries.
set -euo pipefail

# Keep in step with the COPY list of deploy/docker/Dockerfile*
# (tests/deploy_manifests_test.sh checks it).
TARGETS=(
  //server:retrieval_server
  //client:batch_client
  //client:query
  //client:loadgen
  //client:evaluate
  //trainer:train
  //exporter:export
  //datagen:datagen
  //trainer:launch
  //clip:clip_embed
)

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 OUT_DIR [extra bazel build flags]" >&2
  exit 2
fi
out_dir=$1
shift
case "$out_dir" in
  /*) ;;
  *) out_dir="$PWD/$out_dir" ;;
esac

cd "$(dirname "$0")/.."
deploy/install_deps.sh

status=0
bazel build "$@" "${TARGETS[@]}" || status=$?
if [[ $status -eq 0 ]]; then
  # bazel info with the same flags names the output tree those flags use.
  bin_dir=$(bazel info "$@" bazel-bin 2>/dev/null) || status=$?
fi
if [[ $status -eq 0 ]]; then
  # Stage beside OUT_DIR and rename each file into place, so OUT_DIR never
  # mixes binaries of two builds after a failed copy.
  mkdir -p "$out_dir"
  staging=$(mktemp -d "$out_dir/.staging.XXXXXX")
  for target in "${TARGETS[@]}"; do
    pkg=${target#//}
    pkg=${pkg%%:*}
    name=${target##*:}
    if [[ ! -x "$bin_dir/$pkg/$name" ]]; then
      echo "build_release: $bin_dir/$pkg/$name missing after the build" >&2
      status=1
      break
    fi
    install -m 0755 "$bin_dir/$pkg/$name" "$staging/$name"
  done
  if [[ $status -eq 0 ]]; then
    for target in "${TARGETS[@]}"; do
      name=${target##*:}
      mv -f "$staging/$name" "$out_dir/$name"
    done
    echo "build_release: ${#TARGETS[@]} binaries in $out_dir" >&2
  fi
  rm -rf "$staging"
fi
bazel shutdown
exit "$status"
