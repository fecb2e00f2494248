#!/usr/bin/env bash
# The main job, end to end, on one machine:
#   install dependencies -> build -> dataset -> train -> export -> serve ->
#   batch client (competition JSON) -> evaluate (mAP@10 on the val split).
#
# Usage: tools/demo.sh [--work_dir=DIR] [--data_dir=DIR] [--init_weights=FILE]
#                      [--vocab=FILE] [--arch=NAME] [--epochs=N]
#                      [--precision=auto|fp32|bf16] [--ablation] [--fresh]
#                      [-- extra train flags]
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
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
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
  tools/pipeline.sh "${EXTRA[@]}"
