#!/usr/bin/env bash
# The main job, end to end, on one machine:
#   install dependencies -> build -> dataset -> train -> export -> serve ->
#   batch client (competition JSON) -> evaluate (mAP@10 on the val split).
#
# Usage: tools/demo.sh [--work_dir=DIR] [--data_dir=DIR] [--init_weights=FILE]
#                      [--vocab=FILE] [--arch=NAME] [--epochs=N]
#                      [--precision=auto|fp32|bf16] [--ablation] [--fresh]
#                      [--serve [--http_port=8080]] [-- extra train flags]
#
# Defaults: the built-in synthetic traffic dataset (//datagen:datagen) and a
# small CLIP trained from scratch on the CPU, all under out/demo. A second run
# reuses the dataset, the trained weights and the exported versions (pass
# --fresh to redo everything).
#
# Real data: --data_dir=DIR in the competition's layout (train/train_label.txt,
# train/images/, val/val_label.txt, val/images/, test/test_text.txt,
# test/images/). Pretrained weights: --init_weights=ViT-B-16.pt (OpenAI
# TorchScript, safetensors or Hugging Face) with --vocab=bpe_simple_vocab_16e6.txt.gz.
# --precision: inference precision of export and server (default auto: bf16
# on CPUs with AVX512_BF16 or AMX); unless fp32, the val split is scored in
# fp32 too and the summary compares the two.
# The summary prints the ablation of attribute loss, routing and re-ranking
# on the val split; --ablation also trains the recipe without attribute loss
# for the baseline row (a second training run, as long as the first).
# --serve: after the summary, serve the test gallery's version with the REST
# port (--http_port, default 8080; 0 picks a free one) and print the search
# page's URL, http://127.0.0.1:<port>/; Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

WORK=out/demo
DATA=""
INIT=""
VOCAB=""
ARCH=demo
EPOCHS=""
PRECISION=auto
FRESH=0
ABLATION=0
SERVE=0
HTTP_PORT=8080
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work_dir=*) WORK=${1#*=} ;;
    --data_dir=*) DATA=${1#*=} ;;
    --init_weights=*) INIT=${1#*=} ;;
    --vocab=*) VOCAB=${1#*=} ;;
    --arch=*) ARCH=${1#*=} ;;
    --epochs=*) EPOCHS=${1#*=} ;;
    --precision=*) PRECISION=${1#*=} ;;
    --fresh) FRESH=1 ;;
    --ablation) ABLATION=1 ;;
    --serve) SERVE=1 ;;
    --http_port=*) HTTP_PORT=${1#*=} ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ ! "$HTTP_PORT" =~ ^[0-9]+$ ]] || (( HTTP_PORT > 65535 )); then
  echo "demo: --http_port must be a port number in [0, 65535] (0: a free one), got '$HTTP_PORT'" >&2
  exit 2
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
[[ $FRESH == 1 ]] && rm -rf "${WORK:?}"/{data,run,run-baseline,models,submission.json,val_*,contact_sheet.png,*.log}

declare -a STAGES=()
stage_start() { STAGE_NAME=$1; STAGE_T0=$(date +%s.%N); echo "== $1" >&2; }
stage_end() {
  local t; t=$(awk -v a="$STAGE_T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  STAGES+=("$(printf '%-34s %8ss' "$STAGE_NAME" "$t")")
}
trap 'bazel shutdown >/dev/null 2>&1 || true' EXIT

stage_start "install dependencies"
deploy/install_deps.sh
stage_end

stage_start "build"
bazel build //datagen:datagen //trainer:train //exporter:export \
  //server:retrieval_server //client:batch_client //client:evaluate //client:query
stage_end

BIN="$ROOT/bazel-bin" WORK="$WORK" DATA="$DATA" INIT="$INIT" VOCAB="$VOCAB" \
  ARCH="$ARCH" EPOCHS="$EPOCHS" PRECISION="$PRECISION" ABLATION="$ABLATION" STAGE_TIMES="$(printf '%s\n' "${STAGES[@]}")" \
  tools/pipeline.sh ${EXTRA[@]+"${EXTRA[@]}"}

[[ $SERVE == 1 ]] || exit 0
# The search page (server/web/, docs/server.md "REST") on the test gallery.
bazel shutdown >/dev/null 2>&1 || true
BIN="$ROOT/bazel-bin"
"$BIN/server/retrieval_server" --models_dir="$WORK/models/test" --port=0 \
  --http_port="$HTTP_PORT" --metrics_port=-1 --reload_interval_s=0 --precision="$PRECISION" \
  >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
trap 'kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true' EXIT
ready=0
for _ in $(seq 1 600); do
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
  ADDR=$(sed -n 's/^listening on //p' "$WORK/serve.out" | head -1)
  URL=$(sed -n 's/^REST on //p' "$WORK/serve.out" | head -1)
  if [[ -n "$ADDR" && -n "$URL" ]] && "$BIN/client/query" --server="$ADDR" --health >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
[[ $ready == 1 ]] || { echo "demo: the server did not become ready (see $WORK/serve.log)" >&2; exit 1; }
echo
echo "search page: $URL  (gRPC on $ADDR; gallery $WORK/models/test)"
echo "Ctrl-C stops the server."
wait "$SERVER_PID"
