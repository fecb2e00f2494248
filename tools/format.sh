#!/usr/bin/env bash
# Formats the project's sources: C++ (*.h, *.cc) with Debian's clang-format
# in the style of .clang-format, and Bazel files (BUILD, *.BUILD, WORKSPACE,
# *.bzl) with buildifier.
#
# Usage: tools/format.sh [--check] [path ...]
#   (default)  rewrites the files that are not formatted
#   --check    changes nothing; lists the files whose formatting differs and
#              exits 1 when there is any (a CI step, .ci/run)
#   path       only the files under these files or folders (default: all)
# The files are those git knows in this checkout, tracked or new (not
# ignored ones such as bazel-* or node_modules).
#
# Tools: clang-format comes from Debian (package clang-format, installed with
# apt when missing, by deploy/install_deps.sh --packages);
# buildifier from npm, pinned by tools/format/package-lock.json and installed
# with `npm ci` into tools/format/node_modules (only when that install is
# missing or older than the lock file; nothing is fetched when it is current).
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [[ "${1:-}" == "--check" ]]; then
  check=1
  shift
fi
paths=("$@")

# Debian packages, installed only when missing (needs root or sudo then).
missing=()
status=$(dpkg-query -W -f='${db:Status-Status}' clang-format 2>/dev/null || true)
[[ "$status" == "installed" ]] || command -v clang-format-14 >/dev/null ||
  missing+=(clang-format)
command -v npm >/dev/null || missing+=(npm)
if (( ${#missing[@]} > 0 )); then
  deploy/install_deps.sh --packages "${missing[@]}"
fi

# clang-format 14 is Debian 12's; other versions break lines differently.
if command -v clang-format-14 >/dev/null; then
  clang_format=clang-format-14
else
  clang_format=clang-format
  if ! "$clang_format" --version | grep -q 'version 14\.'; then
    echo "format: $("$clang_format" --version) is not clang-format 14;" \
      "its output may differ from CI's" >&2
  fi
fi

# buildifier at the version of the lock file. The stamp records the lock
# file that the installed node_modules came from.
npm_dir=tools/format
buildifier=$npm_dir/node_modules/.bin/buildifier
stamp=$npm_dir/node_modules/.installed-from-lock
lock_sum=$(sha256sum "$npm_dir/package-lock.json" | cut -d' ' -f1)
if [[ ! -x "$buildifier" || ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" ]]; then
  echo "format: npm ci in $npm_dir" >&2
  (cd "$npm_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
  echo "$lock_sum" >"$stamp"
fi

# The files: known to git, present, under the given paths.
cc_files=()
bazel_files=()
while IFS= read -r -d '' f; do
  [[ -f "$f" ]] || continue
  case "$f" in
    bazel-*) continue ;;
    *.h | *.cc) cc_files+=("$f") ;;
    BUILD | */BUILD | *.BUILD | BUILD.bazel | */BUILD.bazel | WORKSPACE | */WORKSPACE | *.bzl)
      bazel_files+=("$f") ;;
  esac
done < <(git ls-files -z --cached --others --exclude-standard -- "${paths[@]}" | sort -zu)

# The files whose formatting differs, into `differ`.
differ=()
for f in "${cc_files[@]}"; do
  "$clang_format" --style=file "$f" | cmp -s - "$f" || differ+=("$f")
done
cc_differ=${#differ[@]}
if (( ${#bazel_files[@]} > 0 )); then
  # -mode=check names each file to reformat as "<file> # reformat" and exits
  # 4 when there is one; any other failure (a syntax error) is fatal.
  rc=0
  out=$("$buildifier" -mode=check "${bazel_files[@]}" 2>&1) || rc=$?
  if [[ $rc -ne 0 && $rc -ne 4 ]]; then
    echo "$out" >&2
    exit 2
  fi
  while IFS= read -r line; do
    if [[ "$line" == *" # reformat" ]]; then differ+=("${line% # reformat}"); fi
  done <<<"$out"
fi

if (( check )); then
  if (( ${#differ[@]} > 0 )); then
    echo "format: ${#differ[@]} file(s) not formatted (tools/format.sh formats them):" >&2
    printf '  %s\n' "${differ[@]}" >&2
    exit 1
  fi
  echo "format: ${#cc_files[@]} C++ and ${#bazel_files[@]} Bazel files formatted"
  exit 0
fi

for i in "${!differ[@]}"; do
  f=${differ[$i]}
  if (( i < cc_differ )); then
    "$clang_format" --style=file -i "$f"
  else
    "$buildifier" -mode=fix "$f"
  fi
  echo "formatted $f"
done
echo "format: ${#differ[@]} file(s) changed"
