#!/usr/bin/env bash
# The main job (tools/pipeline.sh, as tools/demo.sh runs it) at a tiny size,
# on the built binaries: synthetic data, one epoch of a tiny model, export,
# server on a free port, batch client, evaluation. Checks the submission's
# shape and order, the evaluation's attribute analysis and last line, the
# ablation of attribute loss, routing and re-ranking in the summary, the
# contact sheet, and that a second run reuses the dataset, the weights and
# the exported versions.
# Args: pipeline.sh
set -euo pipefail
PIPELINE=$1
export BIN="$TEST_SRCDIR/$TEST_WORKSPACE"
export WORK="$TEST_TMPDIR/job"
export ARCH=tiny EPOCHS=1
export DATAGEN_ARGS="--train_size=64 --val_size=24 --test_size=24 --vehicle_pool_size=4 --pedestrian_pool_size=4 --threads=1"
rm -rf "$WORK"

"$PIPELINE" --batch_size=16 --threads=1 >"$TEST_TMPDIR/run1.out" 2>"$TEST_TMPDIR/run1.err" \
  || { cat "$TEST_TMPDIR/run1.err"; exit 1; }

fail() { echo "FAIL: $*"; cat "$TEST_TMPDIR/run1.out"; exit 1; }
last=$(tail -1 "$TEST_TMPDIR/run1.out")
[[ "$last" =~ ^mAP@10\ (0|1)\.[0-9]+$ ]] || fail "last line is '$last'"
# Even one epoch of the tiny model ranks some relevant image into a top 10:
# a score of exactly 0 means the pipeline lost the answers somewhere.
awk -v m="${last#mAP@10 }" 'BEGIN { exit !(m > 0) }' || fail "mAP@10 is 0: '$last'"
python3 - "$WORK/submission.json" "$WORK/data/test/test_text.txt" <<'PY' || fail "submission"
import json, sys
sub = json.load(open(sys.argv[1], encoding="utf-8"))
with open(sys.argv[2], encoding="utf-8") as f:
    queries = f.read().split("\n")
if queries and queries[-1] == "":
    queries.pop()
results = sub["results"]
assert [r["text"] for r in results] == queries, "texts differ from test_text.txt"
for r in results:
    assert len(r["image_names"]) == 10, r
    assert all(n.endswith(".jpg") for n in r["image_names"]), r
print(f"{len(results)} entries in order")
PY
# The val evaluation (with --labels) carries the attribute analysis before
# its last line.
for pattern in '^wrong-category hits in top-10: [0-9]+ of [0-9]+ ' \
  '^top-1 of pedestrian queries: ' '^top-1 of vehicle queries: ' \
  '^attribute +compared +errors +rate' '^Female +[0-9]+ +[0-9]+ +[0-9.]+%' \
  '^brand +[0-9]+ +[0-9]+ +[0-9.]+%'; do
  grep -Eq "$pattern" "$WORK/val_eval.txt" || fail "no '$pattern' in val_eval.txt"
done
[[ "$(tail -1 "$WORK/val_eval.txt")" =~ ^mAP@10\  ]] || fail "val_eval.txt does not end in mAP@10"
[[ -s "$WORK/contact_sheet.png" ]] || fail "no contact sheet"
[[ -s "$WORK/run/training.png" ]] || fail "no training plot"
grep -q "submission (test queries):" "$TEST_TMPDIR/run1.out" || fail "no summary"
# The default recipe trains attribute heads, and the summary carries the
# ablation, each row scored through the server, and the held-out test score.
for row in "+ attribute loss" "+ routing" "+ re-ranking (no routing)" "+ routing + re-ranking"; do
  # (a basic regular expression: "+" and parentheses are literal)
  grep -q "^$row  *[0-9]\.[0-9]* " "$TEST_TMPDIR/run1.out" \
    || fail "no ablation row '$row'"
done
grep -Eq '^test mAP@10 \(held-out test split, its hidden labels\): [0-9.]+$' "$TEST_TMPDIR/run1.out" \
  || fail "no test mAP"
grep -q '"attributes"' "$WORK"/models/val/*/manifest.json || fail "val version has no attributes block"
[[ -s "$WORK/val_attributes.png" ]] || fail "no attribute chart"
# The default precision (auto) is compared against fp32 on the val split.
line=$(grep '^precision auto' "$TEST_TMPDIR/run1.out") || fail "no precision comparison"
overlap=$(sed -n 's/.*top-10 overlap //p' <<<"$line")
map_auto=$(awk '{print $8}' <<<"$line")
map_fp32=$(awk '{print $10}' <<<"$line" | tr -d ,)
awk -v o="$overlap" -v a="$map_auto" -v b="$map_fp32" 'BEGIN {
  d = a - b; if (d < 0) d = -d
  exit !(o >= 0.98 && d <= 0.005) }' || fail "precision comparison out of bounds: $line"

# A second run reuses what the first built.
"$PIPELINE" --batch_size=16 --threads=1 >"$TEST_TMPDIR/run2.out" 2>"$TEST_TMPDIR/run2.err" \
  || { cat "$TEST_TMPDIR/run2.err"; exit 1; }
for what in "$WORK/data" "$WORK/run/model.safetensors" "$WORK/models/test" "$WORK/models/val"; do
  grep -q "reusing $what" "$TEST_TMPDIR/run2.err" || fail "second run did not reuse $what"
done
[[ "$(tail -1 "$TEST_TMPDIR/run2.out")" == "$last" ]] || fail "second run scored differently"
echo "1 passed, 0 failed"
