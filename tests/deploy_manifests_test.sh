#!/usr/bin/env bash
# Checks the deployment files under deploy/ against the release binaries:
# yamllint, every --flag known to its binary, ports/probes/grace periods and
# mounts that agree, Dockerfiles built with deploy/build_release.sh, the CUDA
# image's dry run against the CPU image and deploy/docker/build_image.sh
# (details in deploy_manifests_test.py). Hermetic: no network, Docker or
# cluster.
#
# Usage:
#   tests/deploy_manifests_test.sh BINARY...      # as Bazel runs it (tests/BUILD)
#   tests/deploy_manifests_test.sh --self_test    # fake binaries, from a checkout
set -euo pipefail

if [[ -n "${TEST_SRCDIR:-}" ]]; then
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-traffic_retrieval}"
else
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fi
script="$root/tests/deploy_manifests_test.py"

# yamllint: PATH, then Debian's location (Bazel may run tests with a short
# PATH).
yamllint=$(command -v yamllint || true)
if [[ -z "$yamllint" && -x /usr/bin/yamllint ]]; then
  yamllint=/usr/bin/yamllint
fi
if [[ -z "$yamllint" ]]; then
  echo "deploy_manifests_test: yamllint is not installed (deploy/install_deps.sh)" >&2
  exit 1
fi

# A Python 3 with PyYAML: python3 on PATH, Debian's, or yamllint's own
# interpreter (the yamllint package depends on python3-yaml).
python=""
candidates=(python3 /usr/bin/python3)
shebang=$(head -n 1 "$yamllint")
if [[ "$shebang" == "#!"* ]]; then
  candidates+=("${shebang#\#!}")
fi
for candidate in "${candidates[@]}"; do
  # shellcheck disable=SC2086  # a shebang may carry arguments
  if command -v ${candidate%% *} >/dev/null 2>&1 &&
     $candidate -c 'import yaml' >/dev/null 2>&1; then
    python=$candidate
    break
  fi
done
if [[ -z "$python" ]]; then
  echo "deploy_manifests_test: no python3 with PyYAML (python3-yaml)" >&2
  exit 1
fi

# Bazel passes the binaries relative to the runfiles root.
args=()
for a in "$@"; do
  if [[ "$a" != -* && "$a" != /* && -e "$root/$a" ]]; then
    args+=("$root/$a")
  else
    args+=("$a")
  fi
done

# shellcheck disable=SC2086
YAMLLINT="$yamllint" exec $python "$script" --root="$root" "${args[@]}"
