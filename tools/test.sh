#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs every test.
#
# Usage: tools/test.sh [extra bazel test flags, e.g. --config=asan]
# This is the README's test command and what CI and the container build run.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install_deps.sh
status=0
bazel test //... "$@" || status=$?
bazel shutdown
exit "$status"
