#!/usr/bin/env bash
# The export binary's gallery changes, end to end on a tiny model version:
#  1. sharded: launch starts 2 export processes (--num_shards=2; each takes
#     its shard from $RANK), then export --merge_shards publishes; its
#     embeddings and row order equal a one-process export's exactly;
#  2. the merge refuses a shard directory with a shard missing;
#  3. incremental: --from_version=1 with 5 added images and 3 removed names
#     publishes version 2 with the lineage in its manifest, the removed names
#     gone and the added ones present, and encodes only the added images;
#     a remove list naming an image not in the version fails with the file
#     and line and publishes nothing.
# Args: datagen train export launch compare_safetensors.py
set -euo pipefail
DATAGEN=$PWD/$1 TRAIN=$PWD/$2 EXPORT=$PWD/$3 LAUNCH=$PWD/$4 COMPARE=$PWD/$5
W="$TEST_TMPDIR/gallery_changes"
rm -rf "$W" && mkdir -p "$W"
fail() { echo "FAIL: $*"; exit 1; }
"$(dirname "$0")/tiny_version.sh" "$DATAGEN" "$TRAIN" "$EXPORT" "$W"
WEIGHTS="$W/run/model.safetensors"
IMAGES="$W/data/test/images"
LABELS="$W/data/test/test_label.txt"
common=(--weights="$WEIGHTS" --labels="$LABELS" --resize_mode=squash --batch_size=8 --threads=1)

# 1. Two shards through the launcher, merged, against one process.
"$LAUNCH" --nproc_per_node=2 -- "$EXPORT" "${common[@]}" --images="$IMAGES" \
  --num_shards=2 --shard_dir="$W/shards" >"$W/shards.log" 2>&1 \
  || { cat "$W/shards.log"; fail "sharded encoding failed"; }
for i in 0 1; do
  [[ -f "$W/shards/shard-0000$i-of-00002.safetensors" ]] || fail "no shard $i"
done
grep -q "shard 0 of 2: 24 images" "$W/shards.log" || { cat "$W/shards.log"; fail "shard 0 is not 3 batches of 8"; }
"$EXPORT" "${common[@]}" --merge_shards --shard_dir="$W/shards" --models_dir="$W/merged" \
  >"$W/merge.log" 2>&1 || { cat "$W/merge.log"; fail "merge failed"; }
grep -q "merged 2 shards" "$W/merge.log" || fail "merge did not say it merged 2 shards"
"$EXPORT" "${common[@]}" --images="$IMAGES" --models_dir="$W/single" >"$W/single.log" 2>&1 \
  || { cat "$W/single.log"; fail "one-process export failed"; }
cmp -s "$W/merged/1/images.txt" "$W/single/1/images.txt" || fail "merged rows differ from one process's"
"$COMPARE" "$W/merged/1/embeddings.safetensors" "$W/single/1/embeddings.safetensors" 0 \
  || fail "merged embeddings differ from one process's"
grep -q '"encoded_shards": 2' "$W/merged/1/manifest.json" || fail "manifest lacks encoded_shards"

# 2. A missing shard.
mkdir -p "$W/half" && cp "$W/shards/shard-00000-of-00002."* "$W/half/"
if "$EXPORT" "${common[@]}" --merge_shards --shard_dir="$W/half" --models_dir="$W/half_models" \
    >"$W/half.log" 2>&1; then
  fail "merging one of two shards succeeded"
fi
grep -q "shard 1 of 2" "$W/half.log" || { cat "$W/half.log"; fail "the error does not name the missing shard"; }
[[ ! -d "$W/half_models/1" ]] || fail "a version was published from half the shards"

# 3. Incremental: 5 training images added, 3 gallery images removed.
ls "$W/data/train/images" | head -5 | sed "s|^|$W/data/train/images/|" >"$W/add.txt"
cut -f1 "$W/models/1/images.txt" | sed -n '2p;10p;30p' >"$W/remove.txt"
"$EXPORT" --models_dir="$W/models" --from_version=1 --images="$W/add.txt" \
  --remove="$W/remove.txt" --min_label_coverage=0 --threads=1 >"$W/inc.log" 2>&1 \
  || { cat "$W/inc.log"; fail "incremental export failed"; }
grep -q "from version 1: added 5 images, removed 3" "$W/inc.log" || { cat "$W/inc.log"; fail "no change summary"; }
grep -q "encoded 5/5 images" "$W/inc.log" || { cat "$W/inc.log"; fail "encoded more than the added images"; }
[[ $(wc -l <"$W/models/2/images.txt") -eq 42 ]] || fail "version 2 has $(wc -l <"$W/models/2/images.txt") images, want 42"
while read -r name; do
  ! cut -f1 "$W/models/2/images.txt" | grep -qxF "$name" || fail "removed $name is still in version 2"
done <"$W/remove.txt"
while read -r path; do
  cut -f1 "$W/models/2/images.txt" | grep -qxF "$(basename "$path")" || fail "added $path is not in version 2"
done <"$W/add.txt"
python3 - "$W/models/2/manifest.json" <<'PY' || fail "version 2's manifest lineage is wrong"
import json, sys
m = json.load(open(sys.argv[1]))
l = m["lineage"]
assert l["parent_version"] == 1 and l["added_images"] == 5 and l["removed_images"] == 3, l
assert l["added_from"].endswith("add.txt") and l["removed_from"].endswith("remove.txt"), l
assert m["num_images"] == 42, m["num_images"]
PY
printf 'not_there.jpg\n' >"$W/bad_remove.txt"
if "$EXPORT" --models_dir="$W/models" --from_version=2 --remove="$W/bad_remove.txt" \
    --threads=1 >"$W/bad.log" 2>&1; then
  fail "a remove list naming an unknown image was accepted"
fi
grep -q "bad_remove.txt:1: image 'not_there.jpg' is not in version 2" "$W/bad.log" \
  || { cat "$W/bad.log"; fail "the error does not name the file, line and image"; }
[[ ! -d "$W/models/3" ]] || fail "a failed incremental export published version 3"
echo "PASS"
