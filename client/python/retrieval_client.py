#!/usr/bin/python3
"""A Python client of the retrieval server's gRPC API (retrieval.v1).

Uses Debian's python3-grpcio and python3-protobuf with modules generated
from proto/retrieval/v1/retrieval.proto (client/python/generate_stubs.sh).
When they are not on PYTHONPATH, the client generates them into a temporary
directory first (protoc and grpc_python_plugin, from Debian's
protobuf-compiler and protobuf-compiler-grpc).

Examples:
  retrieval_client.py --server=127.0.0.1:8500 --text="This is a white Audi."
  retrieval_client.py --server=... --image=gallery/abc.jpg --top_k=5
  retrieval_client.py --server=... --text="a red sedan" --vehicle_color=red
  retrieval_client.py --server=... --encode_text="a man" --encode_image=a.jpg
  retrieval_client.py --server=... --info
  retrieval_client.py --server=host:8500 --tls_ca=ca.pem --token_file=token ...

A search prints "model version V: N hits, category C" and then the table of
the C++ client (client/query_main.cc): rank, score, image, category,
similarity. --json prints the response in the proto3 JSON mapping instead.
Exit status: 0 success, 1 the call failed (the gRPC status and message on
stderr), 2 bad arguments.

As a library:
  from retrieval_client import RetrievalClient
  client = RetrievalClient("127.0.0.1:8500", token="...")
  response = client.search(text="a white Audi", top_k=10)
  for hit in response.hits: print(hit.image_name, hit.score)
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_stubs():
    """Returns (retrieval_pb2, retrieval_pb2_grpc), generating them if needed."""
    try:
        pb2 = importlib.import_module("retrieval.v1.retrieval_pb2")
        pb2_grpc = importlib.import_module("retrieval.v1.retrieval_pb2_grpc")
        return pb2, pb2_grpc
    except ImportError:
        pass
    out = tempfile.mkdtemp(prefix="retrieval_stubs_")
    script = os.path.join(_HERE, "generate_stubs.sh")
    result = subprocess.run([script, out], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("could not generate the retrieval.v1 modules: " +
                           result.stderr.strip())
    sys.path.insert(0, out)
    importlib.invalidate_caches()
    pb2 = importlib.import_module("retrieval.v1.retrieval_pb2")
    pb2_grpc = importlib.import_module("retrieval.v1.retrieval_pb2_grpc")
    return pb2, pb2_grpc


try:
    import grpc
except ImportError:
    sys.exit("retrieval_client: needs python3-grpcio (Debian), e.g. "
             "deploy/install_deps.sh; run it with /usr/bin/python3")

pb2, pb2_grpc = load_stubs()

CATEGORIES = {
    "": pb2.CATEGORY_UNSPECIFIED,
    "pedestrian": pb2.CATEGORY_PEDESTRIAN,
    "vehicle": pb2.CATEGORY_VEHICLE,
    "auto": pb2.CATEGORY_AUTO,
}
CATEGORY_NAMES = {
    pb2.CATEGORY_UNSPECIFIED: "unspecified",
    pb2.CATEGORY_PEDESTRIAN: "pedestrian",
    pb2.CATEGORY_VEHICLE: "vehicle",
    pb2.CATEGORY_AUTO: "auto",
}


class RetrievalClient:
    """One channel to a retrieval server; every method is one unary call.

    server: HOST:PORT. token: bearer token sent as "authorization: Bearer
    <token>" metadata on every call (None: none). tls_ca: PEM bytes of the
    root certificates; turns TLS on (None: plaintext). tls_server_name: the
    name to check the certificate against when it differs from HOST.
    timeout: seconds per call. Failed calls raise grpc.RpcError (its code()
    and details() carry the server's status and message).
    """

    def __init__(self, server, token=None, tls_ca=None, tls_server_name=None,
                 timeout=10.0):
        options = []
        if tls_ca is not None:
            if tls_server_name:
                options.append(("grpc.ssl_target_name_override", tls_server_name))
            credentials = grpc.ssl_channel_credentials(root_certificates=tls_ca)
            self._channel = grpc.secure_channel(server, credentials, options)
        else:
            if tls_server_name:
                raise ValueError("tls_server_name requires tls_ca")
            self._channel = grpc.insecure_channel(server, options)
        self._stub = pb2_grpc.TextImageRetrievalStub(self._channel)
        self._metadata = [("authorization", "Bearer " + token)] if token else []
        self._timeout = timeout

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        return method(request, timeout=self._timeout, metadata=self._metadata)

    def search(self, text=None, image=None, embedding=None, top_k=10,
               category="", offset=0, model_version=0, vehicle_color="",
               vehicle_type="", vehicle_brand="", pedestrian_flags=None):
        """Ranks the gallery for one query: exactly one of text (str), image
        (the bytes of an image file) and embedding (floats) is given."""
        request = pb2.SearchRequest(top_k=top_k, category=CATEGORIES[category],
                                    offset=offset, model_version=model_version)
        if text is not None:
            request.text = text.encode("utf-8")
        if image is not None:
            request.image = image
        if embedding is not None:
            request.embedding.extend(embedding)
        f = request.filter
        f.vehicle_color, f.vehicle_type, f.vehicle_brand = (
            vehicle_color, vehicle_type, vehicle_brand)
        for name, present in (pedestrian_flags or {}).items():
            f.pedestrian_flags[name] = present
        return self._call(self._stub.Search, request)

    def batch_search(self, texts, top_k=10, category="", model_version=0):
        request = pb2.BatchSearchRequest()
        for text in texts:
            request.requests.add(text=text.encode("utf-8"), top_k=top_k,
                                 category=CATEGORIES[category],
                                 model_version=model_version)
        return self._call(self._stub.BatchSearch, request)

    def encode(self, texts=(), images=(), model_version=0):
        """Embeds texts (str) and images (bytes); returns EncodeResponse."""
        request = pb2.EncodeRequest(texts=[t.encode("utf-8") for t in texts],
                                    images=list(images),
                                    model_version=model_version)
        return self._call(self._stub.Encode, request)

    def model_info(self, model_version=0):
        return self._call(self._stub.GetModelInfo,
                          pb2.GetModelInfoRequest(model_version=model_version))


def print_search(response, first_rank=1):
    """Prints a SearchResponse as client/query_main.cc does (without the
    latency, which differs between runs); ranks start at first_rank."""
    print("model version %d: %d hits, category %s, %d candidates" %
          (response.model_version, len(response.hits),
           CATEGORY_NAMES[response.routed_category], response.num_candidates))
    names = [h.image_name.encode("unicode_escape").decode("ascii")
             for h in response.hits]
    width = max([5] + [len(n) for n in names])
    print("%4s  %8s  %-*s  %-11s  %s" %
          ("rank", "score", width, "image", "category", "similarity"))
    for rank, (hit, name) in enumerate(zip(response.hits, names),
                                       start=first_rank):
        print("%4d  %8.4f  %-*s  %-11s  %.4f" %
              (rank, hit.score, width, name, CATEGORY_NAMES[hit.category],
               hit.similarity))


def parse_flags(values):
    """"Hat=1,Backpack=0" -> {"Hat": True, "Backpack": False} (as the C++
    query client; true and false are accepted too)."""
    flags = {}
    for item in filter(None, values.split(",")):
        name, sep, value = item.partition("=")
        if not sep or not name or value not in ("1", "0", "true", "false"):
            raise argparse.ArgumentTypeError(
                "'%s' is not NAME=1 (present) or NAME=0 (absent)" % item)
        flags[name] = value in ("1", "true")
    return flags


def main(argv):
    parser = argparse.ArgumentParser(
        description="Queries a retrieval server over gRPC (retrieval.v1).")
    parser.add_argument("--server", required=True, help="HOST:PORT")
    what = parser.add_argument_group("what to do (one of)")
    what.add_argument("--text", help="search for this description")
    what.add_argument("--image", help="search with this image file (JPEG, PNG, ...)")
    what.add_argument("--encode_text", action="append", default=[],
                      help="embed this text (repeatable)")
    what.add_argument("--encode_image", action="append", default=[],
                      help="embed this image file (repeatable)")
    what.add_argument("--info", action="store_true",
                      help="describe the model version")
    parser.add_argument("--top_k", type=int, default=10)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--category", choices=["pedestrian", "vehicle", "auto"],
                        default="")
    parser.add_argument("--model_version", type=int, default=0,
                        help="0: the server's default version")
    parser.add_argument("--vehicle_color", default="")
    parser.add_argument("--vehicle_type", default="")
    parser.add_argument("--vehicle_brand", default="")
    parser.add_argument("--pedestrian_flags", type=parse_flags, default={},
                        help="NAME=1 (present) or NAME=0 (absent), "
                             "comma-separated, e.g. Hat=1,Backpack=0")
    parser.add_argument("--token_file",
                        help="file holding the bearer token (surrounding "
                             "whitespace is ignored)")
    parser.add_argument("--tls_ca", help="PEM root certificates; turns TLS on")
    parser.add_argument("--tls_server_name",
                        help="name to check the certificate against")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per call (default 10)")
    parser.add_argument("--json", action="store_true",
                        help="print the response as proto3 JSON")
    args = parser.parse_args(argv)
    chosen = [bool(args.text is not None), bool(args.image),
              bool(args.encode_text or args.encode_image), args.info]
    if sum(chosen) != 1:
        parser.error("give exactly one of --text, --image, "
                     "--encode_text/--encode_image and --info")
    if args.tls_server_name and not args.tls_ca:
        parser.error("--tls_server_name requires --tls_ca")

    def read(path, mode="rb"):
        try:
            with open(path, mode) as f:
                return f.read()
        except OSError as e:
            parser.error("cannot read %s: %s" % (path, e.strerror))

    token = read(args.token_file, "r").strip() if args.token_file else None
    tls_ca = read(args.tls_ca) if args.tls_ca else None
    from google.protobuf import json_format

    with RetrievalClient(args.server, token=token, tls_ca=tls_ca,
                         tls_server_name=args.tls_server_name,
                         timeout=args.timeout) as client:
        try:
            if args.info:
                response = client.model_info(args.model_version)
            elif args.encode_text or args.encode_image:
                response = client.encode(
                    args.encode_text, [read(p) for p in args.encode_image],
                    args.model_version)
            else:
                response = client.search(
                    text=args.text,
                    image=read(args.image) if args.image else None,
                    top_k=args.top_k, category=args.category,
                    offset=args.offset, model_version=args.model_version,
                    vehicle_color=args.vehicle_color,
                    vehicle_type=args.vehicle_type,
                    vehicle_brand=args.vehicle_brand,
                    pedestrian_flags=args.pedestrian_flags)
        except grpc.RpcError as e:
            print("retrieval_client: %s: %s" % (e.code().name, e.details()),
                  file=sys.stderr)
            return 1
    if args.json or not isinstance(response, pb2.SearchResponse):
        print(json.dumps(json_format.MessageToDict(response), indent=2))
    else:
        print_search(response, first_rank=args.offset + 1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
