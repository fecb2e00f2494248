#!/usr/bin/env bash
# Runs the CPU image (deploy/docker/Dockerfile) the way a deployment does and
# checks it against the same binaries run outside a container.
#
# Usage: tests/docker_image_test.sh [--image=NAME] [--work_dir=DIR] [--keep]
#   --image=NAME    image to test (default retrieval:latest); built with
#                   deploy/docker/build_image.sh when missing
#   --work_dir=DIR  scratch directory, reachable by uid 10001 (default: a
#                   new one under /var/tmp, deleted at the end unless --keep
#                   or a check failed)
#
# Steps:
#   1. The image's binaries are copied out of it; tools/pipeline.sh (the main
#      job, at the size of //tests:main_job_test) runs them on this machine:
#      synthetic data, a tiny model, exported model versions, a submission.
#   2. The server container starts on the test gallery's models directory,
#      mounted read-only at /models/retrieval, as the image's user 10001,
#      without a network (--network=none), with a read-only root file system,
#      a tmpfs /tmp and no capabilities (as deploy/k8s/server-deployment.yaml
#      runs it). The host reaches its loopback interface by entering the
#      container's network namespace (nsenter): query --health answers
#      SERVING and the image's HEALTHCHECK turns healthy.
#   3. Searches answer with the same top 10 (names and scores) as the same
#      server binary run outside the container on the same version.
#   4. /metrics answers (HTTP 200, Prometheus text).
#   5. batch_client from the image, in the server container's network
#      namespace, writes the same submission as batch_client on the host
#      against the host server.
#   6. docker stop ends the server gracefully: exit code 0 within the
#      server's --grace_period_s (20 s); the time is printed.
#   7. train from the image runs one epoch of the tiny model on the same data
#      and writes the weights of the host run (same seed, one thread; equal
#      within 1e-5).
#
# Needs root (or access to a Docker daemon and nsenter's rights), a Docker
# daemon (started by deploy/docker/build_image.sh when root and docker.io is
# installed), the runtime libraries on the host (deploy/install_deps.sh
# --runtime) and python3.
# Exit status: 0 passed, 1 failed, 2 bad usage, 77 skipped (no daemon can be
# reached or started here, or no root: the reason is printed).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=retrieval:latest
WORK=""
KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --image=*) IMAGE=${1#*=} ;;
    --work_dir=*) WORK=${1#*=} ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "docker_image_test: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

skip() { echo "SKIP: docker_image_test: $*" >&2; exit 77; }
fail() { echo "FAIL: docker_image_test: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

if [[ -z "${DOCKER:-}" ]]; then
  if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
export DOCKER

# --- Environment -----------------------------------------------------------
[[ $(id -u) -eq 0 ]] || skip "needs root (the daemon, and nsenter into the container's network namespace)"
command -v nsenter >/dev/null || skip "nsenter (util-linux) is not installed"
command -v python3 >/dev/null || fail "python3 is not installed"
if ! "$DOCKER" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null && command -v "$DOCKER" >/dev/null ||
    skip "no Docker daemon answers and docker.io is not installed (deploy/docker/build_image.sh installs it)"
  deploy/docker/build_image.sh --base_only ||
    skip "no Docker daemon answers and none could be started here (see above)"
fi
if ! "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "building $IMAGE"
  deploy/docker/build_image.sh --tag="$IMAGE" || fail "could not build $IMAGE"
fi

if [[ -z "$WORK" ]]; then
  WORK=$(mktemp -d /var/tmp/docker_image_test.XXXXXX)
else
  mkdir -p "$WORK"
  WORK=$(cd "$WORK" && pwd)
fi
# uid 10001 in the containers reads the data and the models.
chmod 755 "$WORK"

NAME="retrieval-test-$$"
HOST_SERVER_PID=""
PASSED=0
CID=""
cleanup() {
  "$DOCKER" rm -f "$NAME" ${CID:+"$CID"} >/dev/null 2>&1 || true
  if [[ -n "$HOST_SERVER_PID" ]] && kill -0 "$HOST_SERVER_PID" 2>/dev/null; then
    kill -TERM "$HOST_SERVER_PID"; wait "$HOST_SERVER_PID" || true
  fi
  if ((PASSED && !KEEP)); then
    rm -rf "$WORK"
  else
    echo "docker_image_test: files kept in $WORK" >&2
  fi
}
trap cleanup EXIT

# --- 1. The image's binaries on the host ------------------------------------
log "copying /opt/retrieval/bin out of $IMAGE"
CID=$("$DOCKER" create "$IMAGE")
rm -rf "$WORK/image-bin"
"$DOCKER" cp "$CID:/opt/retrieval/bin" "$WORK/image-bin"
"$DOCKER" rm "$CID" >/dev/null
CID=""
for b in "$WORK"/image-bin/*; do
  if LC_ALL=C ldd "$b" | grep -q 'not found'; then
    fail "$(basename "$b") from the image does not load here ($(LC_ALL=C ldd "$b" | grep 'not found' | head -n 3 | tr -s ' \t\n' ' '));
install the runtime libraries: deploy/install_deps.sh --runtime"
  fi
done
# tools/pipeline.sh expects Bazel's layout (BIN/<package>/<name>): the
# packages come from deploy/build_release.sh's TARGETS.
BIN="$WORK/bin"
rm -rf "$BIN"
targets=$(sed -n '/^TARGETS=(/,/^)/p' deploy/build_release.sh | grep -oE '//[A-Za-z0-9_/]+:[A-Za-z0-9_]+')
[[ -n "$targets" ]] || fail "no TARGETS in deploy/build_release.sh"
for t in $targets; do
  pkg=${t#//}; pkg=${pkg%%:*}; name=${t##*:}
  [[ -x "$WORK/image-bin/$name" ]] || fail "the image has no /opt/retrieval/bin/$name ($t)"
  mkdir -p "$BIN/$pkg"
  ln -sfn "$WORK/image-bin/$name" "$BIN/$pkg/$name"
done

log "tools/pipeline.sh on the host (tiny model)"
t0=$(date +%s.%N)
# The size of //tests:main_job_test.
export ARCH=tiny EPOCHS=1
export DATAGEN_ARGS="--train_size=64 --val_size=24 --test_size=24 --vehicle_pool_size=4 --pedestrian_pool_size=4 --threads=1"
TRAIN_FLAGS=(--batch_size=16 --threads=1)
BIN="$BIN" WORK="$WORK/job" tools/pipeline.sh "${TRAIN_FLAGS[@]}" \
  >"$WORK/pipeline.out" 2>"$WORK/pipeline.err" ||
  { tail -n 30 "$WORK/pipeline.err" >&2; fail "tools/pipeline.sh failed"; }
echo "pipeline: $(elapsed "$t0") s, $(tail -n 1 "$WORK/pipeline.out")" >&2
JOB="$WORK/job"
MODELS="$JOB/models/test"
compgen -G "$MODELS/[0-9]*" >/dev/null || fail "no model version in $MODELS"
chmod -R a+rX "$JOB"

# --- 2. The server container --------------------------------------------------
log "server container on $MODELS (read-only)"
"$DOCKER" run -d --name "$NAME" --network=none --read-only --tmpfs /tmp \
  --cap-drop=ALL --security-opt=no-new-privileges \
  -v "$MODELS:/models/retrieval:ro" "$IMAGE" >/dev/null
t_start=$(date +%s.%N)
pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$NAME")
[[ "$pid" -gt 0 ]] || fail "the container is not running: $("$DOCKER" logs "$NAME" 2>&1 | tail -n 20)"
in_container_net() { nsenter --target "$pid" --net "$@"; }

uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[[ "$uid" == 10001 ]] || fail "the server runs as uid $uid, not 10001"
[[ "$("$DOCKER" inspect -f '{{.Config.User}}' "$IMAGE")" == 10001:10001 ]] ||
  fail "the image's USER is not 10001:10001"

health=""
for _ in $(seq 1 240); do
  health=$(in_container_net "$BIN/client/query" --server=127.0.0.1:8500 --health 2>/dev/null || true)
  [[ "$health" == SERVING ]] && break
  [[ "$("$DOCKER" inspect -f '{{.State.Running}}' "$NAME")" == true ]] ||
    fail "the server exited: $("$DOCKER" logs "$NAME" 2>&1 | tail -n 20)"
  sleep 0.5
done
[[ "$health" == SERVING ]] || fail "query --health says '$health' after 120 s: $("$DOCKER" logs "$NAME" 2>&1 | tail -n 20)"
echo "health: SERVING after $(elapsed "$t_start") s" >&2

# The image's HEALTHCHECK runs every 10 s.
status=""
for _ in $(seq 1 60); do
  status=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$NAME")
  [[ "$status" == healthy ]] && break
  sleep 1
done
[[ "$status" == healthy ]] || fail "docker reports the container '$status', not healthy"
echo "HEALTHCHECK: healthy" >&2

# --- 3. Same top 10 as outside the container ---------------------------------
log "server outside the container on the same version"
"$BIN/server/retrieval_server" --models_dir="$MODELS" --port=0 --metrics_port=-1 \
  --reload_interval_s=0 >"$WORK/host_server.out" 2>"$WORK/host_server.log" &
HOST_SERVER_PID=$!
host_addr=""
for _ in $(seq 1 600); do
  host_addr=$(sed -n 's/^listening on //p' "$WORK/host_server.out" | head -n 1)
  if [[ -n "$host_addr" ]] &&
     [[ "$("$BIN/client/query" --server="$host_addr" --health 2>/dev/null)" == SERVING ]]; then
    break
  fi
  kill -0 "$HOST_SERVER_PID" 2>/dev/null || fail "the host server exited: $(tail -n 20 "$WORK/host_server.log")"
  host_addr=""
  sleep 0.1
done
[[ -n "$host_addr" ]] || fail "the host server did not become healthy"

# Rank, score and image of each hit (the last line holds the latency).
hits() { grep -E '^ *[0-9]+ ' | awk '{print $1, $2, $3}'; }
n=0
while IFS= read -r text && ((n < 5)); do
  [[ -n "$text" ]] || continue
  in_container_net "$BIN/client/query" --server=127.0.0.1:8500 --text="$text" --top_k=10 \
    >"$WORK/q_container.txt" || fail "Search in the container failed for '$text'"
  "$BIN/client/query" --server="$host_addr" --text="$text" --top_k=10 \
    >"$WORK/q_host.txt" || fail "Search on the host failed for '$text'"
  a=$(hits <"$WORK/q_container.txt")
  b=$(hits <"$WORK/q_host.txt")
  [[ $(wc -l <<<"$a") -eq 10 ]] || fail "the container answered $(wc -l <<<"$a") hits for '$text'"
  [[ "$a" == "$b" ]] || fail "top 10 for '$text' differ:
container:
$a
host:
$b"
  n=$((n + 1))
done <"$JOB/data/test/test_text.txt"
((n > 0)) || fail "no test queries in $JOB/data/test/test_text.txt"
echo "Search: the same top 10 in and outside the container for $n queries" >&2

# --- 4. /metrics ----------------------------------------------------------------
in_container_net python3 - <<'PY' || fail "/metrics does not answer"
import sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:9090/metrics", timeout=10) as r:
    body = r.read().decode("utf-8", "replace")
    assert r.status == 200, r.status
assert "# TYPE" in body, body[:300]
print(f"/metrics: HTTP 200, {len(body.splitlines())} lines", file=sys.stderr)
PY

# --- 5. batch_client from the image ---------------------------------------------
# One text per call (--concurrency=1 --chunk_size=1): the server then encodes
# each text alone, so that the two servers compute the same numbers (a bf16
# batch of several texts may round differently from one text alone).
log "batch_client in a container and on the host"
mkdir -p "$WORK/results"
chown 10001:10001 "$WORK/results"
BATCH_FLAGS=(--concurrency=1 --chunk_size=1 --progress=none)
"$DOCKER" run --rm --network="container:$NAME" --read-only \
  -v "$JOB/data:/data:ro" -v "$WORK/results:/results" "$IMAGE" \
  batch_client --server=127.0.0.1:8500 --queries=/data/test/test_text.txt \
  --output=/results/submission.json "${BATCH_FLAGS[@]}" ||
  fail "batch_client in the container failed"
"$BIN/client/batch_client" --server="$host_addr" --queries="$JOB/data/test/test_text.txt" \
  --output="$WORK/host_submission.json" "${BATCH_FLAGS[@]}" ||
  fail "batch_client on the host failed"
python3 - "$WORK/results/submission.json" "$WORK/host_submission.json" \
  "$JOB/data/test/test_text.txt" <<'PY' ||
import json, sys
a, b = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
with open(sys.argv[3], encoding="utf-8") as f:
    texts = [t for t in f.read().split("\n") if t]
assert [r["text"] for r in a["results"]] == texts, "texts differ from the queries"
assert all(len(r["image_names"]) == 10 for r in a["results"]), "not 10 names each"
assert a["results"] == b["results"], "the submissions differ"
print(f"batch_client: {len(texts)} results, the same as on the host",
      file=sys.stderr)
PY
  fail "the container's submission differs from the host's"
kill -TERM "$HOST_SERVER_PID"
wait "$HOST_SERVER_PID" || fail "the host server exited with $? on SIGTERM"
HOST_SERVER_PID=""

# --- 6. Graceful stop -------------------------------------------------------------
log "docker stop"
t0=$(date +%s.%N)
"$DOCKER" stop -t 30 "$NAME" >/dev/null
stop_s=$(elapsed "$t0")
code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$NAME")
[[ "$code" == 0 ]] || fail "the server exited with $code on docker stop: $("$DOCKER" logs "$NAME" 2>&1 | tail -n 20)"
awk -v s="$stop_s" 'BEGIN { exit !(s < 20) }' ||
  fail "docker stop took $stop_s s, beyond the 20 s grace period"
echo "docker stop: exit code 0 after $stop_s s" >&2
"$DOCKER" rm "$NAME" >/dev/null

# --- 7. train from the image ------------------------------------------------------
log "train in a container (tiny model, one epoch)"
mkdir -p "$WORK/runs"
chown 10001:10001 "$WORK/runs"
# The training tools/pipeline.sh ran on the host: its recipe for the
# synthetic dataset (DEFAULT_TRAIN there) with ARCH, EPOCHS and TRAIN_FLAGS.
"$DOCKER" run --rm --network=none --read-only --tmpfs /tmp \
  -v "$JOB/data:/data:ro" -v "$WORK/runs:/runs" "$IMAGE" \
  train --data_dir=/data --output_dir=/runs/tiny --arch=tiny --train_vocab_merges=1000 \
  --epochs=1 --batch_size=64 --lr=1e-3 --warmup_steps=30 --augment=false \
  --resize_mode=squash "${TRAIN_FLAGS[@]}" >"$WORK/train_container.log" 2>&1 ||
  { tail -n 20 "$WORK/train_container.log" >&2; fail "train in the container failed"; }
[[ -s "$WORK/runs/tiny/model.safetensors" ]] || fail "train wrote no model.safetensors"
# Two runs of train are not bit-identical (float rounding; about 1e-7 after
# one epoch); another recipe or data would differ by far more.
python3 tests/compare_safetensors.py "$WORK/runs/tiny/model.safetensors" \
  "$JOB/run/model.safetensors" 1e-5 >&2 ||
  fail "the weights trained in the container differ from the host's"
echo "train: the weights of the host run (within 1e-5)" >&2

PASSED=1
echo "docker_image_test: all checks passed ($IMAGE)"
