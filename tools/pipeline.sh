#!/usr/bin/env bash
# The stages of the main job after the build: dataset, train, export, serve,
# batch client, evaluate. tools/demo.sh runs it after installing and
# building; //tests:main_job_test runs it on the built binaries at a tiny size.
#
# Environment: BIN (directory holding datagen/, trainer/, exporter/, server/,
# client/ binaries),
# WORK (output directory), and optionally DATA, INIT, VOCAB, ARCH, EPOCHS,
# DATAGEN_ARGS (extra datagen flags), STAGE_TIMES (lines to print first in
# the summary), PRECISION (inference precision of export and server: auto,
# the default, fp32 or bf16; unless it is fp32 the val split is also scored
# in fp32 and the two compared), ATTRIBUTE_LOSS (weight of the image and
# text attribute losses as "IMAGE,TEXT"; default 3,0.2; "0,0" trains
# plain CLIP), ABLATION (1: also train the same recipe without attribute
# loss and score it, the ablation's baseline row). Arguments: extra train
# flags.
#
# The best configuration is the default: attribute heads, queries routed to
# their predicted category (batch client --category=auto) and the short list
# re-ranked by attribute agreement (the server's default for versions that
# carry fitted weights). The summary prints the ablation on the val split,
# each row scored through the server.
set -euo pipefail
: "${BIN:?BIN must name the directory of the built binaries}"
: "${WORK:?WORK must name the output directory}"
DATA=${DATA:-}
INIT=${INIT:-}
VOCAB=${VOCAB:-}
ARCH=${ARCH:-demo}
PRECISION=${PRECISION:-auto}
EPOCHS=${EPOCHS:-}
ATTRIBUTE_LOSS=${ATTRIBUTE_LOSS:-3,0.2}
ABLATION=${ABLATION:-0}
EXTRA=("$@")
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

declare -a STAGES=()
if [[ -n "${STAGE_TIMES:-}" ]]; then mapfile -t STAGES <<<"$STAGE_TIMES"; fi
stage_start() { STAGE_NAME=$1; STAGE_T0=$(date +%s.%N); echo "== $1" >&2; }
stage_end() {
  local t; t=$(awk -v a="$STAGE_T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  STAGES+=("$(printf '%-34s %8ss' "$STAGE_NAME" "$t")")
}
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true
  fi
}
trap cleanup EXIT

if [[ -z "$DATA" ]]; then
  DATA="$WORK/data"
  stage_start "generate synthetic dataset"
  if [[ -f "$DATA/manifest.txt" ]]; then
    echo "reusing $DATA" >&2
  else
    "$BIN/datagen/datagen" --output_dir="$DATA" ${DATAGEN_ARGS:-} 2>&1 | tail -1 >&2
  fi
  stage_end
  # The demo recipe: a small CLIP (48 px, width-128 towers) from scratch with
  # its own vocabulary; images squashed to square so tall pedestrian crops
  # keep all their attributes; 20 epochs, with the attribute loss (the
  # image head's weight, 3, is what lifts pedestrians: docs/quality.md).
  DEFAULT_TRAIN=(--arch="$ARCH" --train_vocab_merges=1000 --epochs="${EPOCHS:-20}"
                 --batch_size=64 --lr=1e-3 --warmup_steps=30 --augment=false
                 --resize_mode=squash)
  RESIZE=squash
else
  DEFAULT_TRAIN=(--epochs="${EPOCHS:-5}" --resize_mode=center_crop)
  [[ -n "$INIT" ]] && DEFAULT_TRAIN+=(--init_weights="$INIT" --lr=1e-5 --warmup_steps=100)
  [[ -z "$INIT" ]] && DEFAULT_TRAIN+=(--arch="$ARCH" --train_vocab_merges=20000)
  [[ -n "$VOCAB" ]] && DEFAULT_TRAIN+=(--vocab="$VOCAB")
  RESIZE=center_crop
fi

ATTR_FLAGS=(--image_attribute_loss_weight="${ATTRIBUTE_LOSS%,*}"
            --text_attribute_loss_weight="${ATTRIBUTE_LOSS#*,}")
train_run() {  # run_dir log [flags...]
  local run=$1 log=$2; shift 2
  if [[ -f "$run/model.safetensors" && -f "$run/metrics_epochs.csv" ]]; then
    echo "reusing $run/model.safetensors" >&2
  else
    "$BIN/trainer/train" --data_dir="$DATA" --output_dir="$run" --resume \
      "${DEFAULT_TRAIN[@]}" "$@" ${EXTRA[@]+"${EXTRA[@]}"} 2>&1 | tee "$log" >&2
  fi
}
RUN="$WORK/run"
stage_start "train"
train_run "$RUN" "$WORK/train.log" "${ATTR_FLAGS[@]}"
stage_end

# Exports a gallery into a models directory unless a version made from the
# same weights is there already.
export_gallery() {  # images_dir models_dir [labels] [precision] [run_dir]
  local images=$1 models=$2 labels=${3:-} precision=${4:-$PRECISION} run=${5:-$RUN}
  local sha; sha=$(sha256sum "$run/model.safetensors" | cut -d' ' -f1)
  if grep -qs "\"weights_sha256\": \"$sha\"" "$models"/*/manifest.json; then
    echo "reusing $models" >&2
    return
  fi
  "$BIN/exporter/export" --weights="$run/model.safetensors" --images="$images" \
    ${labels:+--labels="$labels"} --models_dir="$models" --resize_mode="$RESIZE" \
    --model_name=traffic-clip --precision="$precision" 2>&1 | tee -a "$WORK/export.log" >&2
}

stage_start "export test gallery"
export_gallery "$DATA/test/images" "$WORK/models/test" \
  "$( [[ -f $DATA/test/test_label.txt ]] && echo "$DATA/test/test_label.txt")"
stage_end
stage_start "export val gallery"
export_gallery "$DATA/val/images" "$WORK/models/val" "$DATA/val/val_label.txt"
stage_end

start_server() {  # models_dir [precision] [server flags...]
  local models=$1 precision=${2:-$PRECISION}
  shift; [[ $# -gt 0 ]] && shift
  "$BIN/server/retrieval_server" --models_dir="$models" --port=0 --metrics_port=-1 \
    --reload_interval_s=0 --precision="$precision" "$@" >"$WORK/server.out" 2>>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    if grep -q '^listening on ' "$WORK/server.out"; then
      ADDR=$(sed -n 's/^listening on //p' "$WORK/server.out" | head -1)
      "$BIN/client/query" --server="$ADDR" --health >/dev/null 2>&1 && return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; return 1; }
    sleep 0.1
  done
  echo "demo: the server did not become healthy" >&2
  return 1
}
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  SERVER_PID=""
}

stage_start "serve + batch client (test queries)"
start_server "$WORK/models/test"
"$BIN/client/batch_client" --server="$ADDR" --queries="$DATA/test/test_text.txt" \
  --output="$WORK/submission.json" --progress=lines --category=auto
FIRST_QUERY=$(head -1 "$DATA/test/test_text.txt")
"$BIN/client/query" --server="$ADDR" --text="$FIRST_QUERY" --top_k=10 \
  --images_dir="$DATA/test/images" --sheet="$WORK/contact_sheet.png" >"$WORK/query.txt"
stop_server
stage_end

stage_start "serve + evaluate (val split)"
"$BIN/client/evaluate" --labels="$DATA/val/val_label.txt" \
  --write_ground_truth="$WORK/val_gt.txt" >/dev/null
cut -d'$' -f1 "$WORK/val_gt.txt" >"$WORK/val_queries.txt"
start_server "$WORK/models/val"
"$BIN/client/batch_client" --server="$ADDR" --queries="$WORK/val_queries.txt" \
  --output="$WORK/val_predictions.json" --progress=none --category=auto
"$BIN/client/batch_client" --server="$ADDR" --queries="$WORK/val_queries.txt" \
  --output="$WORK/val_predictions_rerank.json" --progress=none
stop_server
"$BIN/client/evaluate" --predictions="$WORK/val_predictions.json" \
  --ground_truth="$WORK/val_gt.txt" --labels="$DATA/val/val_label.txt" \
  --attribute_chart="$WORK/val_attributes.png" | tee "$WORK/val_eval.txt" >&2
stage_end

# One row of the ablation: "name mAP@10 R@1 ped-mAP ped-R@1 veh-mAP veh-R@1"
# from a submission scored on the val split.
ablation_row() {  # name predictions
  "$BIN/client/evaluate" --predictions="$2" --ground_truth="$WORK/val_gt.txt" \
    --labels="$DATA/val/val_label.txt" | awk -v n="$1" '
      $1 == "all" { a = $3 " " $4 } $1 == "pedestrian" { p = $3 " " $4 }
      $1 == "vehicle" { v = $3 " " $4 }
      END { split(a, A); split(p, P); split(v, V)
            printf "%-28s %8.4f %8.4f %9.4f %8.4f %9.4f %8.4f\n", n, A[1], A[2], P[1], P[2], V[1], V[2] }'
}
stage_start "ablation (val split, via the server)"
ABLATION_ROWS=()
if [[ "$ABLATION" == 1 ]]; then
  train_run "$WORK/run-baseline" "$WORK/train-baseline.log" \
    --image_attribute_loss_weight=0 --text_attribute_loss_weight=0
  export_gallery "$DATA/val/images" "$WORK/models/val-baseline" "$DATA/val/val_label.txt" \
    "$PRECISION" "$WORK/run-baseline"
  start_server "$WORK/models/val-baseline"
  "$BIN/client/batch_client" --server="$ADDR" --queries="$WORK/val_queries.txt" \
    --output="$WORK/val_predictions_baseline.json" --progress=none
  stop_server
  ABLATION_ROWS+=("$(ablation_row "baseline (CLIP, cosine)" "$WORK/val_predictions_baseline.json")")
fi
start_server "$WORK/models/val" "$PRECISION" --rerank_candidates=0
"$BIN/client/batch_client" --server="$ADDR" --queries="$WORK/val_queries.txt" \
  --output="$WORK/val_predictions_attr.json" --progress=none
"$BIN/client/batch_client" --server="$ADDR" --queries="$WORK/val_queries.txt" \
  --output="$WORK/val_predictions_routed.json" --progress=none --category=auto
stop_server
ABLATION_ROWS+=("$(ablation_row "+ attribute loss" "$WORK/val_predictions_attr.json")")
ABLATION_ROWS+=("$(ablation_row "+ routing" "$WORK/val_predictions_routed.json")")
ABLATION_ROWS+=("$(ablation_row "+ re-ranking (no routing)" "$WORK/val_predictions_rerank.json")")
ABLATION_ROWS+=("$(ablation_row "+ routing + re-ranking" "$WORK/val_predictions.json")")
stage_end

MAP=$(tail -1 "$WORK/val_eval.txt" | awk '{print $2}')
PRECISION_LINE=""
if [[ "$PRECISION" != fp32 ]]; then
  stage_start "fp32 comparison (val split)"
  export_gallery "$DATA/val/images" "$WORK/models/val-fp32" "$DATA/val/val_label.txt" fp32
  start_server "$WORK/models/val-fp32" fp32
  "$BIN/client/batch_client" --server="$ADDR" --queries="$WORK/val_queries.txt" \
    --output="$WORK/val_predictions_fp32.json" --progress=none --category=auto
  stop_server
  "$BIN/client/evaluate" --predictions="$WORK/val_predictions_fp32.json" \
    --ground_truth="$WORK/val_gt.txt" --labels="$DATA/val/val_label.txt" \
    --compare_with="$WORK/val_predictions.json" >"$WORK/val_eval_fp32.txt"
  stage_end
  MAP32=$(tail -1 "$WORK/val_eval_fp32.txt" | awk '{print $2}')
  OVERLAP=$(sed -n 's/^top-10 overlap with .*: //p' "$WORK/val_eval_fp32.txt")
  USED=$(grep -o 'queries: cpu, precision [a-z0-9]*' "$WORK/server.log" | head -1 | awk '{print $4}')
  PRECISION_LINE="precision $PRECISION (${USED:-?}) vs fp32: val mAP@10 $MAP vs $MAP32, top-10 overlap $OVERLAP"
fi
echo
echo "==================== summary ===================="
printf '%s\n' "${STAGES[@]}"
echo "ablation on the val split (mAP@10 and R@1; each row adds to the one above):"
printf '%-28s %8s %8s %9s %8s %9s %8s\n' configuration mAP@10 R@1 ped-mAP ped-R@1 veh-mAP veh-R@1
printf '%s\n' "${ABLATION_ROWS[@]}"
[[ "$ABLATION" == 1 ]] || echo "(baseline row: run with --ablation to also train without attribute loss)"
if [[ -f "$DATA/test/test_label.txt" ]]; then
  TEST_MAP=$("$BIN/client/evaluate" --predictions="$WORK/submission.json" \
    --labels="$DATA/test/test_label.txt" | tail -1 | awk '{print $2}')
  echo "test mAP@10 (held-out test split, its hidden labels): $TEST_MAP"
fi
echo "val mAP@10 (competition formula, via the server): $MAP"
[[ -n "$PRECISION_LINE" ]] && echo "$PRECISION_LINE"
echo "submission (test queries):  $WORK/submission.json"
echo "training plot:              $RUN/training.png"
echo "training metrics:           $RUN/metrics_epochs.csv"
echo "contact sheet:              $WORK/contact_sheet.png  (query: \"$FIRST_QUERY\")"
echo "attribute errors (val):     $WORK/val_attributes.png"
echo "models:                     $WORK/models/test, $WORK/models/val"
echo "mAP@10 $MAP"
