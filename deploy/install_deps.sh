#!/usr/bin/env bash
# Installs every Debian 12 package needed to build, test and run the project.
#
# Usage: deploy/install_deps.sh [--runtime | --packages PACKAGE...]
#   --runtime   only the shared libraries the binaries need at run time (for
#               slim container images); the default also installs the
#               toolchain, headers and test tools.
#   --packages  exactly the packages named, when missing, and nothing else
#               (the tools scripts' own needs: clang-format, docker.io, ...).
#
# Idempotent: when every package is already installed it only runs dpkg-query
# and exits (well under a second). Needs root (or sudo) only when something is
# missing. Reaches no network other than the configured Debian mirrors.
set -euo pipefail

RUNTIME_PACKAGES=(
  libtorch1.13            # LibTorch (CPU, OpenMP, c10d/Gloo)
  libdnnl2                # oneDNN 2.6, called directly for packed GEMMs
  libcpp-httplib0.11      # HTTP endpoints of the server (metrics)
  libopenblas0-openmp     # fast BLAS for LibTorch and FAISS (reference BLAS is ~50x slower)
  libtcmalloc-minimal4    # allocator linked into every binary that runs a model
  libgrpc++1.51
  libprotobuf32
  libopencv-imgcodecs406
  libopencv-imgproc406
  libopencv-core406
  libgoogle-glog0v6
  libabsl20220623
  libicu72
  zlib1g
  libgomp1
  ca-certificates
)

BUILD_PACKAGES=(
  bazel-bootstrap         # Bazel 4.2.3, the only Bazel packaged for Debian 12
  bazel-rules-java        # /usr/share/bazel/rules/java, keeps @rules_java offline
  g++
  clang                   # tools/fuzz.sh: the libFuzzer build (--config=fuzz)
  libclang-rt-14-dev      # libFuzzer and clang's sanitizer runtimes
  libtorch-dev
  libdnnl-dev             # oneDNN headers (the library itself comes with LibTorch)
  libcpp-httplib-dev
  libgloo-dev             # c10d ProcessGroupGloo headers
  libfaiss-dev
  libopenblas-openmp-dev
  liblapack-dev
  libgrpc++-dev
  libprotobuf-dev
  protobuf-compiler
  protobuf-compiler-grpc
  libopencv-core-dev
  libopencv-imgproc-dev
  libopencv-imgcodecs-dev
  libabsl-dev
  libgoogle-glog-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  nlohmann-json3-dev
  libicu-dev
  zlib1g-dev
  libssl-dev
  openssl                 # test certificates
  yamllint                # deploy manifest lint in the tests
  python3
  python3-grpcio          # client/python: the Python client example and its test
  python3-protobuf        # (stubs generated with protoc and grpc_python_plugin)
  chromium                # //tests:web_page_test: the search page in a real,
  chromium-driver         # headless browser, driven through chromedriver
  python3-selenium        # by Selenium's Python bindings
  git
)

only_named=0
case "${1:-}" in
  --runtime) packages=("${RUNTIME_PACKAGES[@]}") ;;
  --packages)
    shift
    packages=("$@")
    only_named=1
    ;;
  *) packages=("${RUNTIME_PACKAGES[@]}" "${BUILD_PACKAGES[@]}") ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if (( ${#missing[@]} > 0 )); then
  echo "install_deps: installing ${#missing[@]} package(s): ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # Package lists can be missing on a fresh machine or image; refresh them
  # once, then install without recommends to keep images small.
  if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

if ((only_named)); then exit 0; fi

# LibTorch and FAISS must pick up OpenBLAS (OpenMP build), not the reference
# BLAS that other packages may have selected.
if command -v update-alternatives >/dev/null; then
  arch_dir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  for lib in libblas.so.3 liblapack.so.3 libblas.so liblapack.so libopenblas.so.0 libopenblas.so; do
    want="$arch_dir/openblas-openmp/$lib"
    if [[ -e "$want" ]] && [[ "$(readlink -f "$arch_dir/$lib")" != "$(readlink -f "$want")" ]]; then
      SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
      $SUDO update-alternatives --set "$lib-$(basename "$arch_dir")" "$want" >/dev/null
    fi
  done
fi
