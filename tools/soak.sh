#!/usr/bin/env bash
# Soak and fault test of the release binaries on a small self-contained model.
#
#   tools/soak.sh [--clients=64] [--duration_s=60] [--invalid_fraction=0.1]
#                 [--rss_tolerance=0.10] [--batch_queries=12000]
#                 [--bin=DIR] [--work_dir=DIR] [--keep]
#
# Without --bin it builds the binaries with `bazel build` and takes them from
# bazel-bin; --bin=DIR names a directory laid out like bazel-bin (server/,
# client/, datagen/, trainer/, exporter/). --retrieval_server=, --loadgen=,
# --batch_client=, --query=, --datagen=, --train=, --export= override single
# binaries.
#
# Model: datagen writes a small synthetic dataset, train runs two steps of
# the tiny architecture with its own vocabulary, export publishes version 1
# (test gallery) and a spare version from the val gallery (a different
# number of images, so the gauge retrieval_gallery_images tells the two
# apart). Everything goes under --work_dir (default: a fresh temporary
# directory, removed on success unless --keep); a work directory that
# already holds the model is reused.
#
# 1. Load, hot reload, memory. The server starts on a free port (--port=0,
#    "listening on HOST:PORT") with its metrics endpoint, a 1 s reload
#    interval and a text cache smaller than the query set (evictions all
#    along); readiness is its grpc.health.v1 status (query --health).
#    loadgen runs --clients streams for --duration_s seconds with
#    --invalid_fraction of the requests deliberately invalid and
#    --check_codes. Halfway through the run, three versions are published
#    atomically (staged under a hidden name, then renamed): 2, good (the val
#    gallery); 3, a copy with index.faiss cut to half its size; 4, a copy
#    whose manifest.json holds a wrong weights sha256. The server's metrics
#    are sampled every 0.25 s until the run ends. Resident memory (VmRSS) is
#    read a third into the run (after warm-up: allocator pools, caches and
#    gRPC buffers grow during the first seconds) and once loadgen has
#    finished.
# 2. kill -9 under the batch client. A second server (fp32, no cache: its
#    answers do not depend on how texts are batched) serves version 1;
#    batch_client writes the submission for --batch_queries generated
#    queries once uninterrupted, then again while the server is killed with
#    SIGKILL after a third of the chunks and restarted on the same port.
#
# Checks (each printed as PASS/FAIL with its figures; exit 1 if any fails):
#   loadgen codes      loadgen --check_codes exited 0: no valid request
#                      failed, every invalid one got INVALID_ARGUMENT; its
#                      report lists no other status code.
#   server codes       the server's retrieval_requests_total for Search holds
#                      only OK and INVALID_ARGUMENT, and some of the latter
#                      when --invalid_fraction > 0.
#   hot reload         version 2 became current (version gauge and a Search
#                      answer) with the val gallery's size; versions 3 and 4
#                      were refused (log line each, reload failures >= 2) and
#                      neither was ever current (no metrics sample, no
#                      "serving model version" log line); health is SERVING
#                      after the run.
#   memory             VmRSS after the run <= VmRSS after warm-up times
#                      (1 + --rss_tolerance). Only growth fails.
#   kill -9 restart    the server was killed while the batch client was
#                      mid-run, was back on the same port, the batch client
#                      exited 0, and its submission is byte-identical to the
#                      uninterrupted run's.
# Exit status: 0 every check passed; 1 a check failed or a step could not
# run; 2 bad arguments.
set -uo pipefail

CLIENTS=64
DURATION_S=60
INVALID_FRACTION=0.1
RSS_TOLERANCE=0.10
BATCH_QUERIES=12000
BIN=""
WORK=""
KEEP=false
declare -A BINARY=()
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
for arg in "$@"; do
  case "$arg" in
    --clients=*) CLIENTS=${arg#*=} ;;
    --duration_s=*) DURATION_S=${arg#*=} ;;
    --invalid_fraction=*) INVALID_FRACTION=${arg#*=} ;;
    --rss_tolerance=*) RSS_TOLERANCE=${arg#*=} ;;
    --batch_queries=*) BATCH_QUERIES=${arg#*=} ;;
    --bin=*) BIN=${arg#*=} ;;
    --work_dir=*) WORK=${arg#*=} ;;
    --keep) KEEP=true ;;
    --retrieval_server=*|--loadgen=*|--batch_client=*|--query=*|--datagen=*|--train=*|--export=*)
      name=${arg%%=*}; BINARY[${name#--}]=${arg#*=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "soak: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done
is_uint() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
is_fraction() { awk -v x="$1" 'BEGIN { exit !(x ~ /^[0-9]*\.?[0-9]+$/ && x >= 0 && x < 1) }'; }
is_uint "$CLIENTS" || { echo "soak: --clients must be a positive integer, got '$CLIENTS'" >&2; exit 2; }
is_uint "$DURATION_S" && (( DURATION_S >= 8 )) \
  || { echo "soak: --duration_s must be an integer >= 8, got '$DURATION_S'" >&2; exit 2; }
is_uint "$BATCH_QUERIES" && (( BATCH_QUERIES >= 600 )) \
  || { echo "soak: --batch_queries must be an integer >= 600, got '$BATCH_QUERIES'" >&2; exit 2; }
is_fraction "$INVALID_FRACTION" \
  || { echo "soak: --invalid_fraction must be in [0, 1), got '$INVALID_FRACTION'" >&2; exit 2; }
is_fraction "$RSS_TOLERANCE" \
  || { echo "soak: --rss_tolerance must be in [0, 1), got '$RSS_TOLERANCE'" >&2; exit 2; }

TARGETS=(//server:retrieval_server //client:loadgen //client:batch_client //client:query
         //datagen:datagen //trainer:train //exporter:export)
if [[ -z "$BIN" ]]; then
  ROOT=$(cd "$(dirname "$0")/.." && pwd)
  echo "soak: building ${TARGETS[*]}" >&2
  (cd "$ROOT" && bazel build "${TARGETS[@]}") || { echo "soak: build failed" >&2; exit 1; }
  BIN=$(cd "$ROOT" && bazel info bazel-bin) || exit 1
  (cd "$ROOT" && bazel shutdown)
fi
declare -A DEFAULT_PATH=([retrieval_server]=server/retrieval_server [loadgen]=client/loadgen
  [batch_client]=client/batch_client [query]=client/query [datagen]=datagen/datagen
  [train]=trainer/train [export]=exporter/export)
for name in "${!DEFAULT_PATH[@]}"; do
  [[ -n "${BINARY[$name]:-}" ]] || BINARY[$name]="$BIN/${DEFAULT_PATH[$name]}"
  [[ -x "${BINARY[$name]}" ]] || { echo "soak: no executable ${BINARY[$name]} ($name)" >&2; exit 2; }
done

if [[ -z "$WORK" ]]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
  REMOVE_WORK=true
else
  mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd)
  REMOVE_WORK=false
fi
LOGS="$WORK/logs"
rm -rf "$LOGS" "$WORK/models" "$WORK/phase2"
mkdir -p "$LOGS"

# --- bookkeeping ------------------------------------------------------------
T0=$(date +%s.%N)
now() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "soak [$(now)s] $*" >&2; }
declare -a RESULTS=()
FAILED=0
check() {  # PASS|FAIL name details
  RESULTS+=("$(printf '%-4s  %-16s %s' "$1" "$2" "$3")")
  [[ "$1" == PASS ]] || FAILED=1
  log "$1 $2: $3"
}
summary() {
  echo
  echo "==================== soak summary ===================="
  echo "clients $CLIENTS, duration ${DURATION_S} s, invalid fraction $INVALID_FRACTION, RSS tolerance $RSS_TOLERANCE, batch queries $BATCH_QUERIES"
  printf '%s\n' "${RESULTS[@]}"
  if (( FAILED )); then echo "soak: FAILED (logs: $LOGS)"; else echo "soak: all checks passed"; fi
}
die() {  # a step that the checks depend on could not run
  check FAIL "setup" "$*"
  summary
  exit 1
}

declare -a PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  PIDS=()
}
on_exit() {
  local rc=$?
  cleanup
  if [[ $rc -eq 0 && "$REMOVE_WORK" == true && "$KEEP" == false ]]; then rm -rf "$WORK"; fi
  exit $rc
}
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# Starts a server; sets SERVER_PID, ADDR, PORT and METRICS_URL ("" when the
# endpoint is off). Args: log name, models dir, port, extra flags.
start_server() {
  local name=$1 models=$2 port=$3; shift 3
  local out="$LOGS/$name.out"
  "${BINARY[retrieval_server]}" --models_dir="$models" --port="$port" "$@" \
    >"$out" 2>"$LOGS/$name.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 600); do
    if grep -q '^listening on ' "$out"; then
      ADDR=$(sed -n 's/^listening on //p' "$out" | head -1)
      PORT=${ADDR##*:}
      METRICS_URL=$(sed -n 's/^metrics on //p' "$out" | head -1)
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -5 "$LOGS/$name.log" >&2; return 1; }
    sleep 0.05
  done
  return 1
}
# Waits until the server's health service says SERVING (query --health).
wait_healthy() {  # addr pid timeout_s
  local deadline; deadline=$(awk -v t="$(date +%s.%N)" -v d="$3" 'BEGIN { printf "%.3f", t + d }')
  while ! "${BINARY[query]}" --server="$1" --health --deadline_ms=1000 --retries=0 >/dev/null 2>&1; do
    kill -0 "$2" 2>/dev/null || return 1
    awk -v t="$(date +%s.%N)" -v d="$deadline" 'BEGIN { exit !(t > d) }' && return 1
    sleep 0.05
  done
}
metrics() { curl -sf --max-time 2 "$METRICS_URL"; }
metric_value() {  # metrics text, line prefix (name or name{labels})
  awk -v p="$2" 'index($0, p " ") == 1 { v = $NF } END { print (v == "" ? 0 : v) }' <<<"$1"
}

# --- the model ----------------------------------------------------------------
DATA="$WORK/data"
RUN="$WORK/run"
BASE="$WORK/base"    # version 1: the test gallery
SPARE="$WORK/spare"  # version 1: the val gallery, published later as 2
if [[ -f "$BASE/1/manifest.json" && -f "$SPARE/1/manifest.json" ]]; then
  log "reusing the model in $WORK"
else
  rm -rf "$DATA" "$RUN" "$BASE" "$SPARE"
  log "preparing a tiny model and two galleries"
  "${BINARY[datagen]}" --output_dir="$DATA" --train_size=96 --val_size=48 --test_size=160 \
    --vehicle_pool_size=6 --pedestrian_pool_size=6 --threads=1 >"$LOGS/datagen.log" 2>&1 \
    || die "datagen failed (see $LOGS/datagen.log)"
  "${BINARY[train]}" --data_dir="$DATA" --output_dir="$RUN" --arch=tiny --train_vocab_merges=300 \
    --epochs=1 --batch_size=32 --max_steps=2 --augment=false --threads=1 \
    >"$LOGS/train.log" 2>&1 || die "train failed (see $LOGS/train.log)"
  for split in test:"$BASE" val:"$SPARE"; do
    "${BINARY[export]}" --weights="$RUN/model.safetensors" --images="$DATA/${split%%:*}/images" \
      --models_dir="${split#*:}" --model_name=soak --threads=1 >>"$LOGS/export.log" 2>&1 \
      || die "export of the ${split%%:*} gallery failed (see $LOGS/export.log)"
  done
fi
SPARE_IMAGES=$(sed -n 's/^ *"num_images": \([0-9]*\).*/\1/p' "$SPARE/1/manifest.json")
[[ -n "$SPARE_IMAGES" ]] || die "no num_images in $SPARE/1/manifest.json"

# Distinct queries: the dataset's captions, each with a numbered suffix.
QUERIES="$WORK/queries.txt"
awk -F'$' '{ print $NF }' "$DATA/train/train_label.txt" "$DATA/val/val_label.txt" \
  | LC_ALL=C sort -u >"$WORK/captions.txt"
make_queries() {  # count output
  awk -v n="$1" '{ c[m++] = $0 } END { for (i = 0; i < n; i++) print c[i % m] " Seen by camera " int(i / m) + 1 "." }' \
    "$WORK/captions.txt" >"$2"
}
make_queries 3000 "$QUERIES"

# Publishes a copy of version directory $1 as version $2 of $MODELS (staged
# under a hidden name, renamed into place), after applying $3 to the copy.
publish() {
  local src=$1 version=$2 damage=$3 stage="$MODELS/.tmp-soak-$2"
  rm -rf "$stage" && cp -r "$src" "$stage" || return 1
  case "$damage" in
    none) ;;
    truncate_index)
      local size; size=$(stat -c %s "$stage/index.faiss")
      truncate -s $((size / 2)) "$stage/index.faiss" ;;
    bad_sha256)
      sed -i 's/"weights_sha256": "[0-9a-f]*"/"weights_sha256": "'"$(printf '0%.0s' $(seq 64))"'"/' \
        "$stage/manifest.json"
      grep -q "\"weights_sha256\": \"$(printf '0%.0s' $(seq 64))\"" "$stage/manifest.json" || return 1 ;;
  esac
  mv -T "$stage" "$MODELS/$version"
}

# --- 1. load, hot reload, memory ---------------------------------------------
MODELS="$WORK/models"
mkdir -p "$MODELS" && cp -r "$BASE/1" "$MODELS/1"
log "phase 1: server on a free port, $CLIENTS clients for ${DURATION_S} s"
start_server server1 "$MODELS" 0 --metrics_port=0 --reload_interval_s=1 --cache_size=1000 \
  || die "the server did not start (see $LOGS/server1.log)"
S1_PID=$SERVER_PID
wait_healthy "$ADDR" "$S1_PID" 120 || die "the server did not become healthy (see $LOGS/server1.log)"
[[ -n "$METRICS_URL" ]] || die "the server printed no metrics address"
metrics >/dev/null || die "cannot read $METRICS_URL"
log "serving on $ADDR, metrics $METRICS_URL, RSS $(mib "$(rss_kib "$S1_PID")") before load"

"${BINARY[loadgen]}" --server="$ADDR" --queries="$QUERIES" --concurrency="$CLIENTS" \
  --duration_s="$DURATION_S" --invalid_fraction="$INVALID_FRACTION" --check_codes \
  >"$LOGS/loadgen.out" 2>"$LOGS/loadgen.err" &
LOADGEN_PID=$!
PIDS+=("$LOADGEN_PID")
LOAD_T0=$(date +%s.%N)
since_load() { awk -v a="$LOAD_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
WARM_AT=$(awk -v d="$DURATION_S" 'BEGIN { printf "%.1f", d / 3 }')
RELOAD_AT=$(awk -v d="$DURATION_S" 'BEGIN { print d / 2 }')
RSS_WARM=""
RSS_PEAK=0
PUBLISHED_AT=""
V2_AT=""
declare -A VERSIONS_SEEN=()
SAMPLES=0
while kill -0 "$LOADGEN_PID" 2>/dev/null; do
  t=$(since_load)
  rss=$(rss_kib "$S1_PID")
  [[ -n "$rss" ]] || break  # the server died; reported below
  (( rss > RSS_PEAK )) && RSS_PEAK=$rss
  if [[ -z "$RSS_WARM" ]] && awk -v t="$t" -v w="$WARM_AT" 'BEGIN { exit !(t >= w) }'; then
    RSS_WARM=$rss
    log "RSS after warm-up: $(mib "$RSS_WARM")"
  fi
  if [[ -z "$PUBLISHED_AT" ]] && awk -v t="$t" -v w="$RELOAD_AT" 'BEGIN { exit !(t >= w) }'; then
    publish "$SPARE/1" 2 none && publish "$MODELS/1" 3 truncate_index \
      && publish "$MODELS/1" 4 bad_sha256 || die "cannot publish versions into $MODELS"
    PUBLISHED_AT=$t
    log "published version 2 (good), 3 (index.faiss truncated), 4 (bad weights sha256)"
  fi
  if m=$(metrics); then
    v=$(metric_value "$m" retrieval_model_version)
    VERSIONS_SEEN[$v]=$(( ${VERSIONS_SEEN[$v]:-0} + 1 ))
    SAMPLES=$((SAMPLES + 1))
    if [[ -z "$V2_AT" && "$v" == 2 ]]; then
      V2_AT=$(since_load)
      log "version 2 is current"
    fi
  fi
  sleep 0.25
done
wait "$LOADGEN_PID"
LOADGEN_RC=$?
LOAD_S=$(since_load)
RSS_AFTER=$(rss_kib "$S1_PID")
kill -0 "$S1_PID" 2>/dev/null || die "the server died during the load (see $LOGS/server1.log)"
[[ -n "$PUBLISHED_AT" ]] || die "the load ended after ${LOAD_S} s (loadgen exit $LOADGEN_RC: $(tail -1 "$LOGS/loadgen.err")), before the reload point (${RELOAD_AT} s)"
# The swap may land after the load ended on a slow machine: wait up to 30 s.
for _ in $(seq 1 120); do
  [[ -n "$V2_AT" ]] && break
  m=$(metrics) && v=$(metric_value "$m" retrieval_model_version) \
    && VERSIONS_SEEN[$v]=$(( ${VERSIONS_SEEN[$v]:-0} + 1 ))
  [[ "${v:-}" == 2 ]] && V2_AT=$(since_load)
  sleep 0.25
done
FINAL_METRICS=$(metrics) || die "cannot read $METRICS_URL after the load"
log "loadgen exit $LOADGEN_RC after ${LOAD_S} s; $SAMPLES metrics samples"
cat "$LOGS/loadgen.out" >&2

# loadgen: its own verdict (--check_codes) and its per-code report.
other_codes=$(awk '/^status [A-Z_0-9]+: [0-9]+$/ { c = $2; sub(":", "", c); if (c != "OK" && c != "INVALID_ARGUMENT" && $3 > 0) printf "%s%s %s", (n++ ? ", " : ""), c, $3 }' \
  "$LOGS/loadgen.out")
lg_ok=$(awk '/^status OK: / { print $3 }' "$LOGS/loadgen.out")
lg_invalid=$(awk '/^status INVALID_ARGUMENT: / { print $3 }' "$LOGS/loadgen.out")
if [[ $LOADGEN_RC -eq 0 && -z "$other_codes" ]]; then
  check PASS "loadgen codes" "exit 0 with --check_codes; OK ${lg_ok:-?}, INVALID_ARGUMENT ${lg_invalid:-0}, no other code"
else
  check FAIL "loadgen codes" "exit $LOADGEN_RC; other codes: ${other_codes:-none} ($(tail -1 "$LOGS/loadgen.err"))"
fi

# The server's own count of Search calls by status code (summed over the
# model versions that answered them).
search_codes=$(awk -F'"' '/^retrieval_requests_total\{method="Search",/ { split($0, f, " "); n[$4] += f[2] } END { for (c in n) printf "%s %s\n", c, n[c] }' \
  <<<"$FINAL_METRICS")
srv_ok=$(awk '$1 == "OK" { print $2 }' <<<"$search_codes"); srv_ok=${srv_ok:-0}
srv_invalid=$(awk '$1 == "INVALID_ARGUMENT" { print $2 }' <<<"$search_codes"); srv_invalid=${srv_invalid:-0}
srv_other=$(awk '$1 != "OK" && $1 != "INVALID_ARGUMENT" { printf "%s%s %s", (n++ ? ", " : ""), $1, $2 }' <<<"$search_codes")
srv_fraction=$(awk -v a="$srv_ok" -v b="$srv_invalid" 'BEGIN { printf "%.3f", (a + b) ? b / (a + b) : 0 }')
srv_qps=$(awk -v a="$srv_ok" -v b="$srv_invalid" -v s="$LOAD_S" 'BEGIN { printf "%.0f", (a + b) / s }')
detail="OK $srv_ok, INVALID_ARGUMENT $srv_invalid (fraction $srv_fraction), other ${srv_other:-none}; ${srv_qps} calls/s"
if (( srv_ok == 0 )) || [[ -n "$srv_other" ]]; then
  check FAIL "server codes" "$detail"
elif awk -v f="$INVALID_FRACTION" 'BEGIN { exit !(f > 0) }' && (( srv_invalid == 0 )); then
  check FAIL "server codes" "$detail: no invalid request reached the server"
else
  check PASS "server codes" "$detail"
fi

# Hot reload.
gallery=$(metric_value "$FINAL_METRICS" retrieval_gallery_images)
failures=$(metric_value "$FINAL_METRICS" retrieval_reload_failures_total)
current=$(metric_value "$FINAL_METRICS" retrieval_model_version)
answer=$("${BINARY[query]}" --server="$ADDR" --text="$(head -1 "$QUERIES")" 2>&1 | sed -n 's/^model version \([0-9]*\):.*/\1/p')
health=$("${BINARY[query]}" --server="$ADDR" --health 2>/dev/null)
seen=$(for v in "${!VERSIONS_SEEN[@]}"; do echo "$v"; done | sort -n | tr '\n' ' ')
refused=""
for v in 3 4; do
  grep -q "model version $v in .* not loaded" "$LOGS/server1.log" && refused+="$v "
done
served_bad=$(grep -o 'serving model version [34] ' "$LOGS/server1.log" | head -1)
detail="published at ${PUBLISHED_AT} s, version 2 current at ${V2_AT:-never} s; now version $current (answer: ${answer:-none}), $gallery images (want $SPARE_IMAGES); refused: ${refused:-none}; reload failures $failures; versions seen in $SAMPLES samples: $seen; health ${health:-?}"
if [[ "$current" == 2 && "$answer" == 2 && "$gallery" == "$SPARE_IMAGES" && "$refused" == "3 4 " \
      && "$failures" -ge 2 && -z "${VERSIONS_SEEN[3]:-}" && -z "${VERSIONS_SEEN[4]:-}" \
      && -z "$served_bad" && "$health" == SERVING ]]; then
  check PASS "hot reload" "$detail"
else
  check FAIL "hot reload" "$detail${served_bad:+; log: $served_bad}"
fi

# Memory.
if [[ -z "$RSS_WARM" || -z "$RSS_AFTER" ]]; then
  check FAIL "memory" "RSS not measured (warm-up ${RSS_WARM:-none}, after ${RSS_AFTER:-none})"
else
  growth=$(awk -v a="$RSS_WARM" -v b="$RSS_AFTER" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }')
  detail="VmRSS $(mib "$RSS_WARM") after warm-up (${WARM_AT} s), $(mib "$RSS_AFTER") after the run ($growth, limit +$(awk -v t="$RSS_TOLERANCE" 'BEGIN { printf "%g", 100 * t }')%), peak $(mib "$RSS_PEAK")"
  if awk -v a="$RSS_WARM" -v b="$RSS_AFTER" -v t="$RSS_TOLERANCE" 'BEGIN { exit !(b <= a * (1 + t)) }'; then
    check PASS "memory" "$detail"
  else
    check FAIL "memory" "$detail"
  fi
fi
kill -TERM "$S1_PID"; wait "$S1_PID" 2>/dev/null

# --- 2. kill -9 and restart under the batch client ----------------------------
P2="$WORK/phase2"
mkdir -p "$P2"
BATCH="$P2/queries.txt"
make_queries "$BATCH_QUERIES" "$BATCH"
CHUNK=16
CHUNKS=$(( (BATCH_QUERIES + CHUNK - 1) / CHUNK ))
SERVER2_FLAGS=(--metrics_port=-1 --reload_interval_s=0 --cache_size=0 --precision=fp32)
log "phase 2: batch client over $BATCH_QUERIES queries ($CHUNKS chunks), kill -9 and restart"
start_server server2 "$BASE" 0 "${SERVER2_FLAGS[@]}" || die "the phase-2 server did not start"
wait_healthy "$ADDR" "$SERVER_PID" 120 || die "the phase-2 server did not become healthy"
P2_PORT=$PORT
P2_ADDR=$ADDR
BC=("${BINARY[batch_client]}" --server="$P2_ADDR" --queries="$BATCH" --chunk_size=$CHUNK
    --concurrency=2 --progress=none)
ref_t0=$(date +%s.%N)
"${BC[@]}" --output="$P2/reference.json" 2>"$LOGS/batch_reference.log" \
  || die "the uninterrupted batch run failed: $(tail -1 "$LOGS/batch_reference.log")"
REF_S=$(awk -v a="$ref_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

"${BC[@]}" --output="$P2/restarted.json" 2>"$LOGS/batch_restarted.log" &
BC_PID=$!
PIDS+=("$BC_PID")
JOURNAL="$P2/restarted.json.partial.jsonl"
KILL_AFTER=$(( CHUNKS / 3 ))
done_chunks=0
while kill -0 "$BC_PID" 2>/dev/null; do
  done_chunks=0
  [[ -f "$JOURNAL" ]] && done_chunks=$(( $(wc -l <"$JOURNAL") - 1 ))
  (( done_chunks >= KILL_AFTER )) && break
  sleep 0.02
done
MIDWAY=false
if kill -0 "$BC_PID" 2>/dev/null && [[ ! -e "$P2/restarted.json" ]]; then MIDWAY=true; fi
kill_t=$(date +%s.%N)
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
dead_s=$(awk -v a="$kill_t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
log "killed the server (SIGKILL) after $done_chunks of $CHUNKS chunks; restarting on port $P2_PORT"
RESTARTED=false
if start_server server2-restart "$BASE" "$P2_PORT" "${SERVER2_FLAGS[@]}"; then
  listen_s=$(awk -v a="$kill_t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  if wait_healthy "$ADDR" "$SERVER_PID" 60; then
    RESTARTED=true
    healthy_s=$(awk -v a="$kill_t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  fi
fi
wait "$BC_PID"
BC_RC=$?
same="differs"
if [[ -f "$P2/restarted.json" ]] && cmp -s "$P2/reference.json" "$P2/restarted.json"; then
  same="byte-identical ($(sha256sum "$P2/reference.json" | cut -c1-16)...)"
elif [[ ! -f "$P2/restarted.json" ]]; then
  same="not written"
fi
detail="killed after $done_chunks/$CHUNKS chunks (mid-run: $MIDWAY), gone after ${dead_s} s; listening again on port $P2_PORT after ${listen_s:-?} s, SERVING after ${healthy_s:-never} s; batch client exit $BC_RC ($(tail -1 "$LOGS/batch_restarted.log")); submission $same; uninterrupted run ${REF_S} s"
if [[ "$MIDWAY" == true && "$RESTARTED" == true && $BC_RC -eq 0 && "$same" == byte-identical* ]]; then
  check PASS "kill -9 restart" "$detail"
else
  check FAIL "kill -9 restart" "$detail"
fi
cleanup

summary
exit $FAILED
