#!/usr/bin/env bash
# Data-parallel training equals single-process training on the same global
# batches: after several steps, the weights of
#   (a) one process with --batch_size=8,
#   (b) launch --nproc_per_node=2 with --batch_size=4 (Gloo on loopback),
#   (c) two "nodes" (two launch process groups, --nnodes=2, node ranks 0
#       and 1) with one process each and --batch_size=4,
# agree within 1e-5; and (d) when rank 0 fails at the end of an epoch, the
# rank on the other node stops within seconds with rank 0's error.
# Args: train launch datagen compare_safetensors.py
set -euo pipefail
TRAIN=$1 LAUNCH=$2 DATAGEN=$3 COMPARE=$4
TMP=${TEST_TMPDIR:-$(mktemp -d)}/ddp
rm -rf "$TMP" && mkdir -p "$TMP"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$DATAGEN" --output_dir="$TMP/data" --train_size=32 --val_size=4 --test_size=4 \
  --vehicle_pool_size=4 --pedestrian_pool_size=4 --threads=1 2>/dev/null
COMMON=(--data_dir="$TMP/data" --val_labels=none --arch=tiny --train_vocab_merges=60
        --epochs=2 --lr=1e-3 --warmup_steps=1 --threads=1 --resize_mode=pad)

"$TRAIN" "${COMMON[@]}" --batch_size=8 --output_dir="$TMP/single" >"$TMP/single.log" 2>&1 \
  || { cat "$TMP/single.log"; exit 1; }

"$LAUNCH" --nproc_per_node=2 --master_port="$(free_port)" -- \
  "$TRAIN" "${COMMON[@]}" --batch_size=4 --output_dir="$TMP/ddp" >"$TMP/ddp.log" 2>&1 \
  || { cat "$TMP/ddp.log"; exit 1; }

PORT=$(free_port)
"$LAUNCH" --nnodes=2 --node_rank=1 --nproc_per_node=1 --master_port="$PORT" -- \
  "$TRAIN" "${COMMON[@]}" --batch_size=4 --output_dir="$TMP/nodes" >"$TMP/node1.log" 2>&1 &
NODE1=$!
"$LAUNCH" --nnodes=2 --node_rank=0 --nproc_per_node=1 --master_port="$PORT" -- \
  "$TRAIN" "${COMMON[@]}" --batch_size=4 --output_dir="$TMP/nodes" >"$TMP/node0.log" 2>&1 \
  || { cat "$TMP/node0.log" "$TMP/node1.log"; exit 1; }
wait "$NODE1" || { cat "$TMP/node1.log"; exit 1; }

# (d) Rank 0 fails at the end of epoch 1 (its plot cannot be written: a
# directory holds the name). The rank on the other node must stop with
# rank 0's error at once, not wait out the 10-minute collective timeout.
mkdir -p "$TMP/fail/training.png"
PORT=$(free_port)
start=$SECONDS
"$LAUNCH" --nnodes=2 --node_rank=1 --nproc_per_node=1 --master_port="$PORT" -- \
  "$TRAIN" "${COMMON[@]}" --batch_size=4 --output_dir="$TMP/fail" >"$TMP/fail1.log" 2>&1 &
NODE1=$!
if "$LAUNCH" --nnodes=2 --node_rank=0 --nproc_per_node=1 --master_port="$PORT" -- \
  "$TRAIN" "${COMMON[@]}" --batch_size=4 --output_dir="$TMP/fail" >"$TMP/fail0.log" 2>&1; then
  echo "rank 0 should have failed"; cat "$TMP/fail0.log"; exit 1
fi
if wait "$NODE1"; then echo "rank 1 should have failed"; cat "$TMP/fail1.log"; exit 1; fi
elapsed=$((SECONDS - start))
grep -q 'training.png' "$TMP/fail0.log" || { echo "rank 0 does not name the plot"; cat "$TMP/fail0.log"; exit 1; }
grep -q 'rank 0 failed at the end of epoch 1' "$TMP/fail1.log" \
  || { echo "rank 1 does not report rank 0's failure"; cat "$TMP/fail1.log"; exit 1; }
grep -q 'training.png' "$TMP/fail1.log" || { echo "rank 1 does not carry rank 0's message"; cat "$TMP/fail1.log"; exit 1; }
echo "rank 0 failed at the end of epoch 1; both ranks exited after ${elapsed} s"
[[ $elapsed -lt 120 ]] || { echo "the ranks took ${elapsed} s to stop"; exit 1; }

grep -q '^steps 8$' "$TMP/single.log" || { echo "expected 8 steps"; cat "$TMP/single.log"; exit 1; }
echo "single vs 2 processes:"; python3 "$COMPARE" "$TMP/single/model-last.safetensors" "$TMP/ddp/model-last.safetensors" 1e-5
echo "single vs 2 nodes:";     python3 "$COMPARE" "$TMP/single/model-last.safetensors" "$TMP/nodes/model-last.safetensors" 1e-5
echo "2 passed, 0 failed"
