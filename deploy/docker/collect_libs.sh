#!/usr/bin/env bash
# Copies the shared libraries that the given binaries load into DEST_ROOT, a
# file-system overlay for a slim runtime image, each at its own absolute path.
#
# Usage: deploy/docker/collect_libs.sh DEST_ROOT BINARY...
#   EXTRA_LIB_DIRS=/opt/libtorch/lib:/opt/faiss/lib  (optional) directories
#       whose shared libraries (*.so*) are all copied, with their
#       dependencies: for
#       libraries loaded with dlopen (cuDNN sub-libraries, libtorch's lazily
#       loaded CUDA parts), which ldd cannot see.
#
# The list comes from the binaries themselves (ldd, which follows the whole
# NEEDED tree with the binaries' RUNPATHs), never from a hand-written list.
# Symbolic links on the way to a library are copied as links, each with its
# target, so Debian's alternatives keep working in the image:
#   libblas.so.3 -> /etc/alternatives/libblas.so.3-<arch>
#                -> .../openblas-openmp/libblas.so.3 (RUNPATH $ORIGIN)
#                -> libopenblas.so.0 -> libopenblasp-r0.3.21.so
# Directory parts are canonicalised (Debian 12 has a merged /usr: /lib is a
# link to usr/lib), so the overlay never replaces the image's /lib link.
#
# Left out on purpose:
#   - glibc itself (libc6: libc, libm, libpthread, the loader, ...): the
#     runtime base is the same Debian release and brings its own copy, which
#     dpkg owns there;
#   - NVIDIA driver libraries (libcuda, libnvidia-*): the NVIDIA Container
#     Toolkit mounts the host's matching copies when the container starts.
# Any other library that ldd cannot resolve is an error.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 DEST_ROOT BINARY..." >&2
  exit 2
fi
dest=$1
shift
mkdir -p "$dest"

is_glibc() {
  case "$1" in
    ld-linux*.so.* | ld64.so.* | libc.so.* | libm.so.* | libmvec.so.* | \
      libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | \
      libutil.so.* | libanl.so.* | libnss_*.so.* | libBrokenLocale.so.* | \
      libthread_db.so.* | libc_malloc_debug.so.* | libmemusage.so | \
      libpcprofile.so)
      return 0 ;;
  esac
  return 1
}

is_driver_lib() {
  case "$1" in
    libcuda.so* | libnvidia-*.so* | libnvcuvid.so* | libnvoptix.so* | \
      libcudadebugger.so*)
      return 0 ;;
  esac
  return 1
}

# Copies PATH (and every link on the way to the real file) into $dest.
copy_path() {
  local path=$1 hops=0 dir name src target
  while :; do
    dir=$(readlink -f "$(dirname "$path")")
    name=$(basename "$path")
    src="$dir/$name"
    mkdir -p "$dest$dir"
    if [[ -L "$src" ]]; then
      [[ -L "$dest$src" ]] || cp -P "$src" "$dest$src"
      target=$(readlink "$src")
      [[ "$target" == /* ]] || target="$dir/$target"
      path=$target
    elif [[ -f "$src" ]]; then
      [[ -f "$dest$src" ]] || cp -p "$src" "$dest$src"
      return 0
    else
      echo "collect_libs: $path does not exist" >&2
      return 1
    fi
    hops=$((hops + 1))
    if ((hops > 32)); then
      echo "collect_libs: too many links from $1" >&2
      return 1
    fi
  done
}

declare -A done_libs=()
missing=0

# Copies what ldd resolves for FILE.
collect_deps() {
  local file=$1 line soname path
  local output
  if ! output=$(LC_ALL=C ldd "$file" 2>&1); then
    # Static executables and non-ELF files: nothing to collect.
    if grep -qE 'not a dynamic executable|statically linked' <<<"$output"; then
      return 0
    fi
    echo "collect_libs: ldd $file failed: $output" >&2
    return 1
  fi
  while IFS= read -r line; do
    line=${line#"${line%%[![:space:]]*}"}
    [[ -n "$line" ]] || continue
    if [[ "$line" == *" => "* ]]; then
      soname=${line%% => *}
      path=${line#* => }
      path=${path%% (0x*}
    else
      # The loader ("/lib64/ld-linux-x86-64.so.2 (0x...)") or the vDSO.
      soname=$(basename "${line%% (0x*}")
      path=""
    fi
    if is_glibc "$soname" || [[ "$soname" == linux-vdso.so.* || "$soname" == linux-gate.so.* ]]; then
      continue
    fi
    if [[ "$path" == "not found" || -z "$path" ]]; then
      if is_driver_lib "$soname"; then
        continue
      fi
      echo "collect_libs: $file needs $soname, which is not found" >&2
      missing=1
      continue
    fi
    if [[ -z "${done_libs[$path]+x}" ]]; then
      done_libs[$path]=1
      copy_path "$path"
    fi
  done <<<"$output"
}

for bin in "$@"; do
  collect_deps "$bin"
done

if [[ -n "${EXTRA_LIB_DIRS:-}" ]]; then
  IFS=: read -r -a extra_dirs <<<"$EXTRA_LIB_DIRS"
  for d in "${extra_dirs[@]}"; do
    [[ -n "$d" ]] || continue
    d=$(readlink -f "$d")
    while IFS= read -r -d '' lib; do
      copy_path "$lib"
      [[ -L "$lib" ]] || collect_deps "$lib"
    done < <(find "$d" -maxdepth 1 \( -type f -o -type l \) -name '*.so*' -print0)
  done
fi

if ((missing)); then
  exit 1
fi
echo "collect_libs: ${#done_libs[@]} libraries for $# binaries in $dest" >&2
