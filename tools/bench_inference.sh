#!/usr/bin/env bash
# CLIP ViT-B/16 inference speed in each precision, next to the ONNX Runtime
# peer (../shared/bench/peer-ort/run.sh) in the same run, with the ratios.
# Absolute times drift between runs on shared machines; the ratios of one
# run are what to compare.
#
# Usage: tools/bench_inference.sh [threads]   (default 2)
# Needs ../shared (or $RETRIEVAL_SHARED_DIR) for OpenAI's vocabulary and the
# competition's captions; the peer's first run installs its own runtime
# into ~/.cache/peer-ort (see its README).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
shared=${RETRIEVAL_SHARED_DIR:-../shared}
vocab=$shared/data/clip/bpe_simple_vocab_16e6.txt.gz
captions=$shared/data/track2/open-transmind/infer.txt
for f in "$vocab" "$captions"; do
  [[ -f $f ]] || { echo "bench_inference: missing $f (set RETRIEVAL_SHARED_DIR)" >&2; exit 2; }
done
deploy/install_deps.sh
bazel build //clip:encoder_bench
bazel shutdown
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for p in fp32 bf16; do
  echo "== this project, $p"
  bazel-bin/clip/encoder_bench --precision="$p" --threads="$threads" \
    --vocab="$(realpath "$vocab")" --captions="$(realpath "$captions")" | tee "$out/$p.txt"
done
peer=$shared/bench/peer-ort/run.sh
if [[ -f $peer ]]; then
  echo "== ONNX Runtime (fp32)"
  bash "$peer" "$threads" | tee "$out/ort.txt"
else
  echo "bench_inference: no peer benchmark at $peer; ratios skipped" >&2
  exit 0
fi
# Pulls a figure out of a result file: field after a matching prefix.
figure() {  # file, regex before the number
  sed -nE "s/^$2 ([0-9.]+).*/\\1/p" "$1" | head -1
}
ort_b1=$(figure "$out/ort.txt" 'ort text batch 1: median')
ort_b32=$(figure "$out/ort.txt" 'ort text batch 32:')
ort_sorted=$(figure "$out/ort.txt" 'ort text batch 32 \(length-sorted\):')
ort_img=$(figure "$out/ort.txt" 'ort images 224px batch 8:')
echo
echo "== ratios to ONNX Runtime (same run, $threads threads)"
printf '%-6s %-34s %-34s %-22s\n' precision "text batch 1 latency (lower wins)" \
  "text batch 32 throughput" "images throughput"
for p in fp32 bf16; do
  b1=$(figure "$out/$p.txt" 'text batch 1: median')
  b32=$(figure "$out/$p.txt" 'text batch 32:')
  img=$(figure "$out/$p.txt" 'images 224px batch 8:')
  awk -v p="$p" -v b1="$b1" -v o1="$ort_b1" -v b32="$b32" -v o32="$ort_b32" \
      -v os="$ort_sorted" -v img="$img" -v oi="$ort_img" 'BEGIN {
    printf "%-9s %5.1f ms vs %5.1f ms = %.2fx       %6.1f/s = %.2fx unsorted, %.2fx sorted   %5.2f/s vs %5.2f/s = %.2fx\n",
      p, b1, o1, b1 / o1, b32, b32 / o32, b32 / os, img, oi, img / oi }'
done
