#!/usr/bin/env bash
# Publishes a tiny model version for the tests that run a real server: the
# main job's stages (tools/pipeline.sh) at the smallest useful size.
# datagen renders a small synthetic dataset (40 test gallery images, half
# pedestrians, half vehicles), train runs two steps of the tiny architecture
# with the attribute loss (so the version has attribute heads and records
# each gallery image's attributes), export publishes the test gallery as
# version 1 under WORK/models. A few seconds on one core.
# Args: datagen train export WORK [--plain]
# --plain: also train the same two steps without the attribute loss and
# publish that as version 2 (a version without attribute heads).
# Leaves WORK/data (the dataset: WORK/data/test/images, test_text.txt) and
# WORK/models/1 (and 2).
set -euo pipefail
DATAGEN=$1 TRAIN=$2 EXPORT=$3 WORK=$4 PLAIN=${5:-}
[[ -z "$PLAIN" || "$PLAIN" == --plain ]] || { echo "tiny_version: unknown argument $PLAIN" >&2; exit 2; }
mkdir -p "$WORK"
"$DATAGEN" --output_dir="$WORK/data" --train_size=64 --val_size=8 --test_size=40 \
  --vehicle_pool_size=6 --pedestrian_pool_size=6 --threads=1 >"$WORK/datagen.log" 2>&1 \
  || { cat "$WORK/datagen.log" >&2; exit 1; }
publish() {  # run_dir image_loss text_loss
  "$TRAIN" --data_dir="$WORK/data" --output_dir="$1" --arch=tiny --train_vocab_merges=300 \
    --epochs=1 --batch_size=32 --max_steps=2 --augment=false --threads=1 --resize_mode=squash \
    --image_attribute_loss_weight="$2" --text_attribute_loss_weight="$3" >"$1.train.log" 2>&1 \
    || { cat "$1.train.log" >&2; exit 1; }
  "$EXPORT" --weights="$1/model.safetensors" --images="$WORK/data/test/images" \
    --labels="$WORK/data/test/test_label.txt" --models_dir="$WORK/models" --resize_mode=squash \
    --model_name=traffic-clip --threads=1 >"$1.export.log" 2>&1 \
    || { cat "$1.export.log" >&2; exit 1; }
}
publish "$WORK/run" 3 0.2
[[ -z "$PLAIN" ]] || publish "$WORK/run-plain" 0 0
