#!/usr/bin/env bash
# The evaluator on a hand-made label file and submission: the scores, the
# wrong-category line, the top-1 attribute table and the --attribute_chart
# PNG (its size), with "mAP@10 <value>" still the last line.
# Args: evaluate
set -euo pipefail
EVALUATE="$PWD/$1"
cd "$TEST_TMPDIR"
fail() { echo "FAIL: $*"; cat out.txt; exit 1; }

woman=1,0,1,0,1,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0
man_with_hat=0,0,1,0,1,0,0,1,0,0,0,0,0,0,1,0,0,0,0,0,0  # Female, Hat differ
cat >labels.txt <<LABELS
p1.jpg\$$woman\$a woman
p2.jpg\$$man_with_hat\$a man with a hat
v1.jpg\$white Audi.\$a white Audi
v2.jpg\$white BMW.\$a white BMW
LABELS
# The woman's top-1 is the man and a vehicle is in her list; the Audi's
# top-1 is the BMW; the BMW's list holds a pedestrian.
cat >predictions.json <<'JSON'
{"results": [
  {"text": "a woman", "image_names": ["p2.jpg", "v1.jpg", "p1.jpg"]},
  {"text": "a man with a hat", "image_names": ["p2.jpg"]},
  {"text": "a white Audi", "image_names": ["v2.jpg", "v1.jpg"]},
  {"text": "a white BMW", "image_names": ["v2.jpg", "p1.jpg"]}
]}
JSON

"$EVALUATE" --predictions=predictions.json --labels=labels.txt \
  --attribute_chart=chart.png >out.txt 2>&1 || fail "evaluate exited $?"

expect_line() {
  grep -qxF -- "$1" out.txt || fail "no line '$1'"
}
expect_line "wrong-category hits in top-10: 2 of 8 (25.00%); pedestrian queries 1, vehicle queries 1"
expect_line "top-1 of pedestrian queries: 2 compared, 0 of the other category, 0 unlabelled, 0 empty (of 2)"
expect_line "Female                     2       1   50.00%       1       0"
expect_line "Hat                        2       1   50.00%       0       1"
expect_line "Glasses                    2       0    0.00%       0       0"
expect_line "brand                      2       1   50.00%       -       -  Audi -> BMW x1"
expect_line "wrote the attribute chart to chart.png"
[[ "$(tail -1 out.txt)" =~ ^mAP@10\ [01]\.[0-9]{6}$ ]] || fail "last line"

python3 - chart.png <<'PY' || fail "chart.png"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", data[16:24])
# 24 bars: kAttributeChartTop + 24 * kAttributeChartRow + kAttributeChartBottom
assert (width, height) == (900, 64 + 24 * 22 + 40), (width, height)
PY
echo "PASS"
