#!/usr/bin/env bash
# Query latency through the server, by query kind and transport:
#  1. a ViT-B/16 version with random weights over a 17,611-image Flat index
#     (server/bench_version), served with the REST port on;
#  2. text queries (the competition's val captions, shuffled) over gRPC and
#     over REST, at 1 and 32 clients, without the embedding cache;
#  3. image queries (synthetic crops from //datagen:datagen: decode,
#     preprocess, image tower, search) over gRPC at 1 client;
#  4. attribute-filtered search at 1%, 10%, 50% and 100% selectivity on a
#     100,000-image gallery (server/filter_bench), Flat and HNSW32.
# Absolute times drift on shared machines; compare the figures of one run.
#
# Usage: tools/bench_queries.sh [seconds per run]   (default 15)
# Needs ../shared (or $RETRIEVAL_SHARED_DIR) for OpenAI's vocabulary and the
# competition's captions.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
shared=${RETRIEVAL_SHARED_DIR:-../shared}
vocab=$shared/data/clip/bpe_simple_vocab_16e6.txt.gz
captions=$shared/data/track2/open-transmind/infer.txt
for f in "$vocab" "$captions"; do
  [[ -f $f ]] || { echo "bench_queries: missing $f (set RETRIEVAL_SHARED_DIR)" >&2; exit 2; }
done
deploy/install_deps.sh
bazel build //server:bench_version //server:retrieval_server //server:filter_bench \
  //client:loadgen //datagen:datagen
bazel shutdown
BIN=bazel-bin
out=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT

# The val captions (field 3 of infer.txt), shuffled with a fixed seed.
cut -d'$' -f3 "$captions" | awk 'NF' |
  shuf --random-source=<(yes) > "$out/queries.txt"
"$BIN/datagen/datagen" --output_dir="$out/data" --train_size=1 --val_size=300 \
  --test_size=1 > /dev/null
"$BIN/server/bench_version" --models_dir="$out/models" --vocab="$(realpath "$vocab")" \
  > "$out/publish.log" 2>&1
"$BIN/server/retrieval_server" --models_dir="$out/models" --port=0 --metrics_port=-1 \
  --http_port=0 --http_threads=40 --threads=2 --cache_size=0 --reload_interval_s=0 \
  > "$out/server.out" 2> "$out/server.err" &
server_pid=$!
for _ in $(seq 600); do
  grep -q '^REST on' "$out/server.out" && break
  sleep 0.2
done
grpc=$(sed -n 's/^listening on //p' "$out/server.out")
rest=$(sed -n 's|^REST on https\?://||p' "$out/server.out" | tr -d /)
[[ -n $grpc && -n $rest ]] || { echo "bench_queries: the server did not start:" >&2; tail "$out/server.err" >&2; exit 1; }
load() {  # label, loadgen flags...
  local label=$1
  shift
  printf '%-34s ' "$label"
  "$BIN/client/loadgen" --duration_s="$seconds" --deadline_ms=30000 "$@" 2>/dev/null |
    awk '/requests in/ {qps=$6} /latency of OK/ {p50=$7; p99=$11}
         END {printf "p50 %8s ms  p99 %8s ms  %8s requests/s\n", p50, p99, qps}'
}
echo "== queries through the server (ViT-B/16, 17,611 images, Flat, $seconds s each)"
for c in 1 32; do
  load "text, gRPC, $c client(s)" --server="$grpc" --queries="$out/queries.txt" --concurrency=$c
  load "text, REST, $c client(s)" --transport=rest --server="$rest" \
    --queries="$out/queries.txt" --concurrency=$c
done
load "image, gRPC, 1 client" --server="$grpc" --images="$out/data/val/images" --concurrency=1
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
echo "== attribute-filtered search (server/filter_bench)"
"$BIN/server/filter_bench" --gallery=100000 --indexes=Flat,HNSW32
