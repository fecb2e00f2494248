#!/usr/bin/env bash
# The Python client example (client/python/retrieval_client.py) against a
# real server on a tiny model version, over TLS with a bearer token: its
# search table equals the C++ query client's for the same texts (whole
# gallery and one category); an image search with a gallery image ranks
# that image first; Encode gives an L2-normalised embedding of the version's
# dimension, and searching with it ranks as the text does; GetModelInfo
# describes the version; a missing token and a bad request fail with the
# server's status and message. The stubs are generated here, with
# generate_stubs.sh (Debian's protoc and grpc_python_plugin).
# Args: datagen train export retrieval_server query client/python/retrieval_client.py
set -euo pipefail
DATAGEN=$PWD/$1 TRAIN=$PWD/$2 EXPORT=$PWD/$3 SERVER=$PWD/$4 QUERY=$PWD/$5 CLIENT=$PWD/$6
PYTHON=${PYTHON:-/usr/bin/python3}
W="$TEST_TMPDIR/python_client"
rm -rf "$W" && mkdir -p "$W"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true
  fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [[ -f "$W/server.log" ]] && tail -20 "$W/server.log"; exit 1; }

"$PYTHON" -c 'import grpc, google.protobuf' 2>/dev/null \
  || fail "$PYTHON lacks grpc or protobuf: install python3-grpcio and python3-protobuf (deploy/install_deps.sh)"
"$(dirname "$CLIENT")/generate_stubs.sh" "$W/stubs" || fail "generate_stubs.sh failed"
[[ -f "$W/stubs/retrieval/v1/retrieval_pb2_grpc.py" ]] || fail "no generated stub"
export PYTHONPATH="$W/stubs"

"$(dirname "$0")/tiny_version.sh" "$DATAGEN" "$TRAIN" "$EXPORT" "$W" || fail "tiny version"
IMAGES="$W/data/test/images"

# A certificate for 127.0.0.1 and a token.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=retrieval-test \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1 || fail "openssl"
echo "python-client-test-token" >"$W/token"
echo "wrong-token" >"$W/wrong_token"

"$SERVER" --models_dir="$W/models" --port=0 --metrics_port=-1 --reload_interval_s=0 \
  --threads=1 --tls_cert="$W/cert.pem" --tls_key="$W/key.pem" --auth_token_file="$W/token" \
  >"$W/server.out" 2>"$W/server.log" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 600); do
  if grep -q '^listening on ' "$W/server.out"; then
    ADDR=$(sed -n 's/^listening on //p' "$W/server.out" | head -1)
    "$QUERY" --server="$ADDR" --tls_ca="$W/cert.pem" --health >/dev/null 2>&1 && break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited"
  sleep 0.1
done
[[ -n "$ADDR" ]] || fail "the server did not start"
TLS=(--tls_ca="$W/cert.pem")

# The same table from both clients (the C++ client's first line carries its
# latency; the rest must be byte-identical).
compare() {  # label hits [flags...]
  local label=$1 hits=$2; shift 2
  "$QUERY" --server="$ADDR" "${TLS[@]}" --auth_token_file="$W/token" "$@" >"$W/cc.txt" \
    || fail "query $label"
  "$PYTHON" "$CLIENT" --server="$ADDR" "${TLS[@]}" --token_file="$W/token" "$@" >"$W/py.txt" \
    || fail "retrieval_client.py $label"
  diff <(tail -n +2 "$W/cc.txt") <(tail -n +2 "$W/py.txt") >"$W/diff.txt" \
    || { cat "$W/diff.txt"; fail "tables differ ($label)"; }
  local cc_head py_head
  cc_head=$(head -1 "$W/cc.txt" | sed 's/ in [0-9.]* ms,/,/')
  py_head=$(head -1 "$W/py.txt")
  [[ "$cc_head" == "$py_head" ]] || fail "first lines differ ($label): '$cc_head' vs '$py_head'"
  [[ $hits == any || $(wc -l <"$W/py.txt") -eq $((hits + 2)) ]] \
    || { cat "$W/py.txt"; fail "not $hits hits ($label)"; }
}
TEXT=$(head -1 "$W/data/test/test_text.txt")
compare "text" 10 --text="$TEXT" --top_k=10
compare "vehicle" 10 --text="This is a red sedan." --top_k=10 --category=vehicle
grep -q "^model version 1: 10 hits, category vehicle, 20 candidates$" "$W/py.txt" \
  || fail "vehicle header: $(head -1 "$W/py.txt")"
[[ $(awk 'NR > 2 && $4 != "vehicle"' "$W/py.txt" | wc -l) -eq 0 ]] || fail "a non-vehicle hit"
compare "page 2" 10 --text="$TEXT" --top_k=10 --offset=10
[[ "$(sed -n 3p "$W/py.txt" | awk '{print $1}')" == 11 ]] || fail "page 2 does not start at rank 11"
compare "image" 10 --image="$IMAGES/$(ls "$IMAGES" | sed -n 7p)" --top_k=10
# A filter on a vehicle type the version recorded for some image, and one on
# pedestrian flags (which the tiny model may record for no image).
"$PYTHON" "$CLIENT" --server="$ADDR" "${TLS[@]}" --token_file="$W/token" --text="$TEXT" \
  --top_k=40 --json >"$W/all.json" || fail "--json search"
TYPE=$("$PYTHON" -c 'import json, sys
hits = json.load(open(sys.argv[1]))["hits"]
print(next(h["attributes"]["vehicleType"] for h in hits if h.get("attributes", {}).get("vehicleType")))' \
  "$W/all.json") || fail "no recorded vehicle type in $(head -c 300 "$W/all.json")"
COUNT=$("$PYTHON" -c 'import json, sys
hits = json.load(open(sys.argv[1]))["hits"]
print(sum(h.get("attributes", {}).get("vehicleType") == sys.argv[2] for h in hits))' "$W/all.json" "$TYPE")
compare "type $TYPE" $((COUNT < 10 ? COUNT : 10)) --text="$TEXT" --top_k=10 --vehicle_type="$TYPE"
compare "flags" any --text="a person" --top_k=10 --pedestrian_flags=Hat=0,Backpack=0

# Image search, Encode, GetModelInfo through the library.
"$PYTHON" - "$(dirname "$CLIENT")" "$ADDR" "$W" "$TEXT" <<'PY' || fail "library checks"
import math, os, sys
sys.path.insert(0, sys.argv[1])
import grpc
from retrieval_client import RetrievalClient
_, _, addr, work, text = sys.argv
ca = open(os.path.join(work, "cert.pem"), "rb").read()
token = open(os.path.join(work, "token")).read().strip()
client = RetrievalClient(addr, token=token, tls_ca=ca)

info = client.model_info()
assert info.model_version == 1 and list(info.loaded_versions) == [1], info
assert info.default_version == 1 and info.num_images == 40, info
assert info.has_attribute_heads and info.image_queries, info
assert "red" in info.attribute_vocabulary.vehicle_colors, info.attribute_vocabulary
assert "Hat" in info.attribute_vocabulary.pedestrian_flags, info.attribute_vocabulary

by_text = client.search(text=text, top_k=10)
names = [h.image_name for h in by_text.hits]
assert len(names) == 10, names
# An image's own embedding ranks first in an exact (Flat) index.
target = names[4]
with open(os.path.join(work, "data", "test", "images", target), "rb") as f:
    image = f.read()
by_image = client.search(image=image, top_k=5)
assert by_image.hits[0].image_name == target, (target, by_image)
assert by_image.hits[0].similarity > 0.99, by_image.hits[0]

enc = client.encode(texts=[text], images=[image])
vec = list(enc.text_embeddings[0].values)
assert len(vec) == info.embedding_dim, len(vec)
assert abs(math.sqrt(sum(v * v for v in vec)) - 1) < 1e-3, vec
assert len(enc.image_embeddings) == 1 and enc.model_version == 1, enc
by_embedding = client.search(embedding=vec, top_k=10)
assert [h.image_name for h in by_embedding.hits] == names, (by_embedding, names)

# Paging and a filter from the vocabulary.
page2 = client.search(text=text, top_k=5, offset=5)
assert [h.image_name for h in page2.hits] == names[5:10], page2
everything = client.search(text=text, top_k=40)
colors = [h.attributes.vehicle_color for h in everything.hits
          if h.attributes.vehicle_color]
assert colors, "no vehicle has a recorded colour"
color = colors[0]
filtered = client.search(text=text, top_k=10, vehicle_color=color)
assert [h.image_name for h in filtered.hits] == [
    h.image_name for h in everything.hits
    if h.attributes.vehicle_color == color][:10], (color, filtered)
assert filtered.num_candidates == colors.count(color), filtered.num_candidates

batch = client.batch_search([text, "a man"], top_k=3)
assert [h.image_name for h in batch.responses[0].hits] == names[:3], batch

# Errors carry the server's code and message.
try:
    client.search(text=text, top_k=1001)
    raise AssertionError("top_k=1001 was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "top_k" in e.details(), e
client.close()
try:
    RetrievalClient(addr, tls_ca=ca).search(text=text)
    raise AssertionError("a call without the token was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
print("library checks passed")
PY

# The command line: --info and --encode_text print JSON; a wrong token is
# UNAUTHENTICATED on stderr with exit status 1; bad flags exit 2.
"$PYTHON" "$CLIENT" --server="$ADDR" "${TLS[@]}" --token_file="$W/token" --info >"$W/info.json" \
  || fail "--info"
"$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["modelVersion"] == "1" and d["numImages"] == "40", d' \
  "$W/info.json" || fail "--info JSON: $(cat "$W/info.json")"
"$PYTHON" "$CLIENT" --server="$ADDR" "${TLS[@]}" --token_file="$W/token" \
  --encode_text="a man" --encode_image="$IMAGES/$(ls "$IMAGES" | head -1)" >"$W/enc.json" || fail "--encode"
"$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["textEmbeddings"][0]["values"]) == 64 and len(d["imageEmbeddings"]) == 1, d' \
  "$W/enc.json" || fail "--encode JSON"
set +e
"$PYTHON" "$CLIENT" --server="$ADDR" "${TLS[@]}" --token_file="$W/wrong_token" --text=x 2>"$W/err.txt"
rc=$?
"$PYTHON" "$CLIENT" --server="$ADDR" --text=x --info 2>/dev/null
rc_usage=$?
set -e
[[ $rc -eq 1 ]] || fail "wrong token: exit $rc"
grep -q '^retrieval_client: UNAUTHENTICATED: ' "$W/err.txt" || fail "wrong token: $(cat "$W/err.txt")"
[[ $rc_usage -eq 2 ]] || fail "two actions: exit $rc_usage, want 2"
echo "PASS"
