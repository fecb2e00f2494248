#!/usr/bin/env bash
# Builds the CPU image (deploy/docker/Dockerfile) on this machine, from the
# repository, with nothing but Debian's package mirror reachable.
#
# Usage: deploy/docker/build_image.sh [--tag=NAME] [--cold] [--base_only]
#                                     [-- extra docker build arguments]
#   --tag=NAME    image name (default retrieval:latest)
#   --cold        build every layer again and start with an empty Bazel cache
#                 (docker build --no-cache; see "Bazel cache" below)
#   --base_only   stop after the daemon and the base images are ready
#
# Steps, each skipped when its result is there already:
#   1. Debian packages: docker.io (daemon and a BuildKit-capable client) and
#      debootstrap, installed by deploy/install_deps.sh --packages (root or
#      sudo when missing).
#   2. A Docker daemon: one that answers is used as it is; otherwise dockerd
#      is started in the background (log: $STATE_DIR/dockerd.log) and left
#      running for later builds and tests. It gets DOCKERD_FLAGS (default
#      "--iptables=false --bridge=none": no default bridge network; builds use
#      the host's network, the tests run containers without one).
#   3. The base images debian:bookworm and debian:bookworm-slim, the two the
#      Dockerfiles name: when missing, both are made from one debootstrap
#      (--variant=minbase) of bookworm from the Debian mirror of this
#      machine's apt sources (DEBIAN_MIRROR overrides it). The slim one has no
#      documentation, manual pages or translations, and dpkg is told to leave
#      them out of later installs, like Debian's official -slim images.
#   4. docker build with BuildKit and --network=host (apt-get in the build
#      stage reaches the mirror through the host).
#
# Bazel cache: the build stage keeps Bazel's output base and disk cache in a
# BuildKit cache mount (id retrieval-bazel-cpu), so a build after a source
# edit recompiles only what changed. The mount outlives images and layers;
# `docker builder prune` deletes it. With Docker 20.10 (Debian 12),
# --no-cache also starts a new, empty cache mount, which is what --cold uses.
#
# Environment: DOCKER (client; default Debian's /usr/bin/docker, whose
# classic BuildKit builder needs no buildx plugin), DOCKERD_FLAGS,
# DEBIAN_MIRROR, STATE_DIR (default /var/tmp/retrieval-docker).
# Prints the image's size and the build's duration. Exit status: 0 built,
# 1 a step failed (the message names it), 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG=retrieval:latest
COLD=0
BASE_ONLY=0
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag=*) TAG=${1#*=} ;;
    --cold) COLD=1 ;;
    --base_only) BASE_ONLY=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h | --help) sed -n '2,39p' "$0"; exit 0 ;;
    *) echo "build_image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

RELEASE=bookworm
STATE_DIR=${STATE_DIR:-/var/tmp/retrieval-docker}
DOCKERD_FLAGS=${DOCKERD_FLAGS:---iptables=false --bridge=none}

die() { echo "build_image: $*" >&2; exit 1; }
log() { echo "build_image: $*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "'$*' needs root (run as root or install sudo)"
  fi
}

# 1. Packages.
deploy/install_deps.sh --packages docker.io debootstrap ||
  die "could not install docker.io and debootstrap"

if [[ -z "${DOCKER:-}" ]]; then
  if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
command -v "$DOCKER" >/dev/null || die "no docker client ($DOCKER)"
docker_() { "$DOCKER" "$@"; }

# 2. Daemon.
if ! docker_ info >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]] && [[ -S /var/run/docker.sock ]]; then
    die "the daemon at /var/run/docker.sock does not answer this user (join the docker group or run as root)"
  fi
  command -v dockerd >/dev/null || die "dockerd is not installed (package docker.io)"
  as_root mkdir -p "$STATE_DIR"
  log "starting dockerd $DOCKERD_FLAGS (log: $STATE_DIR/dockerd.log)"
  # shellcheck disable=SC2086  # DOCKERD_FLAGS is a list of flags
  as_root sh -c "nohup dockerd $DOCKERD_FLAGS >'$STATE_DIR/dockerd.log' 2>&1 & echo \$! >'$STATE_DIR/dockerd.pid'"
  for _ in $(seq 1 60); do
    docker_ info >/dev/null 2>&1 && break
    sleep 1
  done
  docker_ info >/dev/null 2>&1 ||
    die "dockerd did not come up within 60 s; last lines of $STATE_DIR/dockerd.log:
$(tail -n 20 "$STATE_DIR/dockerd.log" 2>/dev/null)"
  log "dockerd is running (pid $(cat "$STATE_DIR/dockerd.pid")); stop it with: kill \$(cat $STATE_DIR/dockerd.pid)"
fi

# 3. Base images.
have_image() { docker_ image inspect "$1" >/dev/null 2>&1; }

mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  # The first URI of this machine's Debian main archive (deb822 or one-line
  # format), else deb.debian.org.
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v -- '-security' | head -n 1 |
    tr -d ' ' || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

make_base_images() {
  command -v debootstrap >/dev/null || die "debootstrap is not installed"
  local url root
  url=$(mirror)
  as_root mkdir -p "$STATE_DIR"
  root=$(as_root mktemp -d "$STATE_DIR/rootfs.XXXXXX")
  # shellcheck disable=SC2064  # expand root now
  trap "as_root rm -rf '$root'" EXIT
  log "debootstrap --variant=minbase $RELEASE from $url (a few minutes)"
  as_root debootstrap --variant=minbase "$RELEASE" "$root" "$url" \
    >"$STATE_DIR/debootstrap.log" 2>&1 ||
    die "debootstrap failed; last lines of $STATE_DIR/debootstrap.log:
$(tail -n 20 "$STATE_DIR/debootstrap.log")"
  # The archive, updates and security suites of the same mirror host, as in
  # Debian's own images; no downloaded packages or package lists.
  local host=${url%/debian}
  as_root tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<EOF
Types: deb
URIs: $url
Suites: $RELEASE $RELEASE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $host/debian-security
Suites: $RELEASE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  as_root rm -f "$root/etc/apt/sources.list"
  as_root find "$root/var/cache/apt" "$root/var/lib/apt/lists" -type f -delete
  as_root rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
  as_root sh -c ": >'$root/etc/machine-id'"

  # Tagged only once the import succeeded.
  import_rootfs() {  # tag
    as_root tar -C "$root" --numeric-owner -c . |
      docker_ import --change 'CMD ["bash"]' - "$1.importing" >/dev/null ||
      die "docker import of $1 failed"
    docker_ tag "$1.importing" "$1"
    docker_ rmi "$1.importing" >/dev/null
    log "made $1 ($(docker_ image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'))"
  }
  have_image "debian:$RELEASE" || import_rootfs "debian:$RELEASE"

  if ! have_image "debian:$RELEASE-slim"; then
    as_root tee "$root/etc/dpkg/dpkg.cfg.d/slim" >/dev/null <<'EOF'
# Documentation, manual pages and translations stay out of this image.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
    as_root find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    as_root find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    as_root find "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/lintian" \
      -mindepth 1 -delete 2>/dev/null || true
    as_root find "$root/usr/share/locale" -mindepth 1 -not -name locale.alias -delete
    import_rootfs "debian:$RELEASE-slim"
  fi
  as_root rm -rf "$root"
  trap - EXIT
}

if ! have_image "debian:$RELEASE" || ! have_image "debian:$RELEASE-slim"; then
  make_base_images
fi
if ((BASE_ONLY)); then
  log "daemon and base images ready"
  exit 0
fi

# 4. The image.
args=(build --network=host -f deploy/docker/Dockerfile -t "$TAG")
((COLD)) && args+=(--no-cache)
log "DOCKER_BUILDKIT=1 $DOCKER ${args[*]} ${EXTRA[*]} ."
t0=$(date +%s)
DOCKER_BUILDKIT=1 docker_ "${args[@]}" "${EXTRA[@]}" . || die "docker build failed (output above)"
t1=$(date +%s)
size=$(docker_ image inspect -f '{{.Size}}' "$TAG")
log "built $TAG in $((t1 - t0)) s; image size $(awk -v s="$size" 'BEGIN{printf "%.0f MB", s/1e6}')"
