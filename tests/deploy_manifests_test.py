#!/usr/bin/env python3
"""Checks that the deployment files under deploy/ agree with the binaries.

Usage:
  deploy_manifests_test.py --root=REPO BINARY...   # real binaries (Bazel)
  deploy_manifests_test.py --root=REPO --self_test  # fake binaries

Checks, each failure naming the file and the object:
  (a) yamllint (config deploy/.yamllint) passes on every .yaml under deploy/;
  (b) every --flag given to one of our binaries, in the Kubernetes manifests,
      the compose file, the Dockerfiles, the Slurm script and the server's
      flag file (also its commented-out lines), is listed by that binary's
      --helpfull; non-boolean flags are written --flag=VALUE;
  (c) the server's --port equals the containerPort, the gRPC probe ports, the
      compose port and the health checks' --server port; --metrics_port equals
      the metrics containerPort and the prometheus.io/port annotation;
      --http_port (REST and the web page) equals a containerPort, an
      EXPOSEd port and a compose port; a Service port reaches each of
      --port and --http_port; terminationGracePeriodSeconds (compose:
      stop_grace_period) exceeds --grace_period_s plus the preStop sleep; the
      Service, HPA and PDB point at the server's pods and ports; training
      pods ask for as many GPUs as processes per node, and as many nodes as
      replicas;
  (d) the models volume is mounted at the parent of --models_dir (server and
      export agree on --models_dir), the flag file lies in a mounted
      ConfigMap that has it, every absolute path flag lies under a mount
      (output paths under a writable one); with the REST port on, the
      gallery images the server reads (--gallery_images_dir, else the
      manifest's `dataset`, which is export's --images) are the directory
      export read, on the same claim or compose volume, mounted read-only;
  (e) both Dockerfiles build with deploy/build_release.sh /out/bin and copy
      exactly the binaries of its TARGETS list;
  (f) a dry run of the two images against each other and against
      deploy/docker/build_image.sh: no syntax directive (it would fetch a
      frontend image), build and runtime stages on the debian:<release> and
      debian:<release>-slim bases that build_image.sh makes, a Bazel cache
      mount on /root/.cache (output base and disk cache) with sharing=locked
      and an id of its own per image, the same runtime contract (user,
      directories, PATH, ports, signal, health check, command, copied
      files), and a CUDA build stage that sets the variables
      build_release.sh --config=cuda needs, to the prefixes its own steps
      install and check.
Then it applies known mistakes (mutations) to a copy of deploy/ and checks
that each is reported, so that the checks are shown to bite.

Needs Python 3 with PyYAML (a dependency of Debian's yamllint package) and
the yamllint program. No network, no Docker, no cluster.
"""

import argparse
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

# Usage flags every Abseil binary accepts without listing them.
ABSL_USAGE_FLAGS = {
    "help", "helpfull", "helpshort", "helppackage", "helpon", "helpmatch",
    "version", "only_check_args",
}

# Flags whose values are paths in the container, and those written to.
PATH_FLAGS = {
    "models_dir", "data_dir", "output_dir", "init_weights", "vocab",
    "weights", "images", "labels", "queries", "output", "predictions",
    "ground_truth", "write_ground_truth", "flagfile", "tls_cert", "tls_key",
    "tls_ca", "auth_token_file", "train_labels", "train_images", "val_labels",
    "val_images", "texts", "images_dir", "sheet", "resume_file",
    "gallery_images_dir", "shard_dir", "remove",
}
OUTPUT_FLAGS = {"output_dir", "output", "write_ground_truth"}

API_VERSIONS = {
    "Namespace": "v1",
    "PersistentVolumeClaim": "v1",
    "ConfigMap": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "Job": "batch/v1",
    "PyTorchJob": "kubeflow.org/v1",
}

SERVER = "retrieval_server"


# ---------------------------------------------------------------------------
# Binaries' flags.

class Flag:
    def __init__(self, name, default):
        self.name = name
        self.default = default
        self.is_bool = default in ("true", "false")


def parse_helpfull(text):
    """Returns {name: Flag} from Abseil --helpfull output."""
    flags = {}
    blocks = re.split(r"\n(?=    --)", "\n" + text)
    for block in blocks:
        m = re.match(r"    --([A-Za-z0-9_]+) \(", block)
        if not m:
            continue
        d = re.findall(r"default: (.*?);", block, re.S)
        default = d[-1].strip() if d else ""
        if len(default) >= 2 and default[0] == '"' and default[-1] == '"':
            default = default[1:-1]
        flags[m.group(1)] = Flag(m.group(1), default)
    return flags


def load_helps(binaries):
    """Runs BINARY --helpfull for each path; returns {basename: {flag}}."""
    helps = {}
    errors = []
    for path in binaries:
        name = os.path.basename(path)
        try:
            proc = subprocess.run(
                [path, "--helpfull"], stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=120, check=False,
                env=dict(os.environ, OMP_NUM_THREADS="1"))
        except (OSError, subprocess.TimeoutExpired) as e:
            errors.append(f"{path}: cannot run --helpfull: {e}")
            continue
        out = proc.stdout.decode("utf-8", "replace")
        flags = parse_helpfull(out)
        if "flagfile" not in flags:
            errors.append(
                f"{path} --helpfull (exit {proc.returncode}) lists no Abseil "
                f"flags; output starts: {out[:300]!r}")
            continue
        helps[name] = flags
    return helps, errors


# ---------------------------------------------------------------------------
# Command lines.

class Invocation:
    """One of our binaries with the flags after it, in order."""

    def __init__(self, binary, where):
        self.binary = binary
        self.where = where
        self.flags = []  # (name, value or None)

    def value(self, name, helps=None):
        """Last value given for `name`, else the binary's default."""
        for n, v in reversed(self.flags):
            if n == name:
                return "true" if v is None else v
        if helps and self.binary in helps and name in helps[self.binary]:
            return helps[self.binary][name].default
        return None

    def has(self, name):
        return any(n == name for n, _ in self.flags)


def _shell_words(text):
    lx = shlex.shlex(text, posix=True, punctuation_chars=";&|()\n")
    lx.whitespace = " \t\r"
    lx.whitespace_split = True
    lx.commenters = ""
    return list(lx)


def shell_tokens(script):
    """Splits a shell script into words; separators become None."""
    # Whole-line comments go first: an apostrophe in one would open a quote.
    script = "\n".join(l for l in script.split("\n")
                       if not l.lstrip().startswith("#"))
    script = re.sub(r"\\\n", " ", script)
    out = []
    try:
        words = _shell_words(script)
    except ValueError:
        # Unbalanced quotes: fall back to one line at a time.
        words = []
        for line in script.split("\n"):
            try:
                words.extend(_shell_words(line))
            except ValueError:
                words.extend(line.split())
            words.append("\n")
    skipping = False
    for w in words:
        if w and all(c in ";&|()\n" for c in w):
            out.append(None)
            if "\n" in w:
                skipping = False
            continue
        if skipping:
            continue
        if w.startswith("#"):
            skipping = True
            continue
        out.append(w)
    return out


def scan_tokens(tokens, binaries, where):
    """Finds invocations of our binaries in a list of words.

    A word whose last path component is one of `binaries` and that contains
    a '/' starts an invocation; later words starting with '-' are its flags
    until a separator or '--'. Words holding a whole script (with a newline
    or a space) are scanned as shell scripts.
    """
    found = []
    cur = None
    for tok in tokens:
        if tok is None:
            cur = None
            continue
        if ("\n" in tok or " " in tok) and "/" in tok:
            found.extend(scan_tokens(shell_tokens(tok), binaries, where))
            cur = None
            continue
        base = tok.rsplit("/", 1)[-1]
        if "/" in tok and base in binaries:
            cur = Invocation(base, where)
            found.append(cur)
            continue
        if cur is None:
            continue
        if tok == "--":
            cur = None
            continue
        if tok.startswith("-") and len(tok) > 1:
            body = tok.lstrip("-")
            name, eq, value = body.partition("=")
            cur.flags.append((name, value if eq else None))
    return found


def check_flags(inv, helps, errors, extra=""):
    flags = helps.get(inv.binary)
    if flags is None:
        errors.append(f"{inv.where}: no --helpfull for {inv.binary} "
                      f"(give the binary to the test)")
        return
    for name, value in inv.flags:
        if name in ABSL_USAGE_FLAGS:
            continue
        if name in flags:
            if value is None and not flags[name].is_bool:
                errors.append(f"{inv.where}: {inv.binary} --{name} needs a "
                              f"value; write --{name}=VALUE{extra}")
            continue
        if (name.startswith("no") and name[2:] in flags and
                flags[name[2:]].is_bool and value is None):
            continue
        errors.append(f"{inv.where}: {inv.binary} has no flag --{name}"
                      f"{extra} (not in its --helpfull)")


def resolve(value, env):
    """Resolves "$VAR", "${VAR}" or "${VAR:-default}" through `env`."""
    if value is None:
        return None
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}?", value)
    if not m:
        return value
    if m.group(1) in env:
        return env[m.group(1)]
    return m.group(2)


def var_name(value):
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}?",
                     value or "")
    return m.group(1) if m else None


def parse_flagfile(text, where, errors):
    """Returns [(name, value)] of a flag file, and of its commented flags."""
    active, commented = [], []
    for i, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip()
        if not stripped:
            continue
        if line != line.rstrip():
            errors.append(f"{where}:{i}: trailing whitespace (Abseil keeps "
                          f"it in the value)")
        if stripped.startswith("#"):
            m = re.match(r"#\s*(--[A-Za-z0-9_]+(=\S*)?)\s*$", stripped)
            if m:
                name, eq, value = m.group(1)[2:].partition("=")
                commented.append((name, value if eq else None))
            continue
        if not stripped.startswith("-") or stripped.strip() == "--":
            errors.append(f"{where}:{i}: not a flag line: {line!r}")
            continue
        name, eq, value = stripped.strip().lstrip("-").partition("=")
        active.append((name, value if eq else None))
    return active, commented


def to_int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def norm(path):
    return posixpath.normpath(path) if path else path


def under(path, root):
    path, root = norm(path), norm(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


# ---------------------------------------------------------------------------
# The checker.

class Checker:
    def __init__(self, root, helps):
        self.root = root
        self.deploy = os.path.join(root, "deploy")
        self.helps = helps
        self.errors = []
        self.targets = []
        self.binaries = set()
        self.server_models_dirs = []  # (where, value)
        self.export_models_dirs = []
        # Server containers with the REST port on: (where, flag value or
        # None, mounts, volumes); export containers: (where, --images,
        # (claim, path in the claim)).
        self.server_galleries = []
        self.export_images = []
        # export containers: (where, invocation, (claim, path) of
        # --shard_dir or None).
        self.export_shards = []

    def err(self, msg):
        self.errors.append(msg)

    def rel(self, path):
        return os.path.relpath(path, self.root)

    def read(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    # -- build_release.sh ------------------------------------------------

    def check_build_release(self):
        path = os.path.join(self.deploy, "build_release.sh")
        where = self.rel(path)
        if not os.path.exists(path):
            self.err(f"{where}: missing")
            return
        text = self.read(path)
        m = re.search(r"^TARGETS=\((.*?)^\)", text, re.S | re.M)
        if not m:
            self.err(f"{where}: no TARGETS=( ... ) list")
            return
        self.targets = re.findall(r"^\s*(//[\w/]+:\w+)\s*$", m.group(1),
                                  re.M)
        if not self.targets:
            self.err(f"{where}: TARGETS lists no //pkg:name label")
        self.binaries = {t.split(":")[1] for t in self.targets}
        for needed, why in (
                ("deploy/install_deps.sh", "install the dependencies"),
                ('bazel build "$@" "${TARGETS[@]}"', "build TARGETS with the "
                 "extra flags"),
                ("bazel shutdown", "stop the Bazel server")):
            if needed not in text:
                self.err(f"{where}: does not {why} ({needed!r})")

    # -- Dockerfiles -----------------------------------------------------

    def dockerfile_instructions(self, text):
        text = re.sub(r"\\\n", " ", text)
        out = []
        for line in text.split("\n"):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split(None, 1)
            out.append((parts[0].upper(), parts[1] if len(parts) > 1 else ""))
        return out

    def exec_form(self, args):
        args = args.strip()
        if args.startswith("["):
            try:
                return yaml.safe_load(args)
            except yaml.YAMLError:
                return None
        return shell_tokens(args)

    def check_dockerfile(self, name, cuda):
        path = os.path.join(self.deploy, "docker", name)
        where = self.rel(path)
        if not os.path.exists(path):
            self.err(f"{where}: missing")
            return
        instrs = self.dockerfile_instructions(self.read(path))
        build_runs = [a for i, a in instrs if i == "RUN" and
                      "deploy/build_release.sh" in a]
        if not build_runs:
            self.err(f"{where}: no RUN of deploy/build_release.sh (the image "
                     f"must build with the CI release script)")
        for a in build_runs:
            words = shell_tokens(a)
            i = words.index("deploy/build_release.sh") if (
                "deploy/build_release.sh" in words) else -1
            if i < 0 or i + 1 >= len(words) or words[i + 1] != "/out/bin":
                self.err(f"{where}: run deploy/build_release.sh /out/bin")
            has_cuda = "--config=cuda" in words
            if cuda and not has_cuda:
                self.err(f"{where}: build_release.sh without --config=cuda")
            if not cuda and has_cuda:
                self.err(f"{where}: CPU image built with --config=cuda")
        if any(i == "RUN" and re.search(r"\bbazel (build|run|test)\b", a)
               for i, a in instrs):
            self.err(f"{where}: calls bazel directly; use "
                     f"deploy/build_release.sh")
        if not any(i == "RUN" and "collect_libs.sh" in a for i, a in instrs):
            self.err(f"{where}: libraries not collected with "
                     f"deploy/docker/collect_libs.sh")
        copied = set()
        for instr, args in instrs:
            if instr != "COPY" or "--from=build" not in args:
                continue
            words = [w for w in args.split() if not w.startswith("--")]
            srcs, dest = words[:-1], words[-1] if words else ""
            bins = [s for s in srcs if s.startswith("/out/bin")]
            if not bins:
                continue
            for s in bins:
                b = posixpath.basename(s.rstrip("/"))
                if b in ("", "bin", "*") or "*" in b:
                    self.err(f"{where}: copy each binary by name, not {s}")
                    continue
                copied.add(b)
            if norm(dest) != "/opt/retrieval/bin":
                self.err(f"{where}: binaries copied to {dest}, not "
                         f"/opt/retrieval/bin/")
        if self.binaries:
            for b in sorted(self.binaries - copied):
                self.err(f"{where}: does not copy {b} (a target of "
                         f"deploy/build_release.sh)")
            for b in sorted(copied - self.binaries):
                self.err(f"{where}: copies {b}, which "
                         f"deploy/build_release.sh does not build")
        user = [a.strip() for i, a in instrs if i == "USER"]
        if not user or user[-1].split(":")[0] != "10001":
            self.err(f"{where}: the image must run as USER 10001")
        exposed = set()
        for i, a in instrs:
            if i == "EXPOSE":
                exposed.update(to_int(p.split("/")[0]) for p in a.split())
        server = None
        for i, a in instrs:
            if i == "CMD":
                for inv in scan_tokens(self.exec_form(a) or [], self.binaries,
                                       f"{where} CMD"):
                    check_flags(inv, self.helps, self.errors)
                    if inv.binary == SERVER:
                        server = inv
        port = metrics = http = None
        if server is None:
            self.err(f"{where}: CMD does not run {SERVER}")
        else:
            port = to_int(server.value("port", self.helps))
            metrics = to_int(server.value("metrics_port", self.helps))
            http = to_int(server.value("http_port", self.helps))
            if server.value("host", self.helps) not in ("0.0.0.0", "::",
                                                        "[::]"):
                self.err(f"{where} CMD: the server must listen on --host="
                         f"0.0.0.0 in a container")
            for p, what in ((port, "--port"), (metrics, "--metrics_port"),
                            (http, "--http_port")):
                if p and p > 0 and p not in exposed:
                    self.err(f"{where}: EXPOSE lacks the server's {what} {p}")
            self.models_dir_in_image(where, server, instrs)
        checks = [a for i, a in instrs if i == "HEALTHCHECK"]
        if not checks:
            self.err(f"{where}: no HEALTHCHECK")
        for a in checks:
            m = re.search(r"\bCMD\s+(.*)$", a)
            words = self.exec_form(m.group(1)) if m else None
            invs = scan_tokens(words or [], self.binaries,
                               f"{where} HEALTHCHECK")
            self.check_health_invocations(invs, port, f"{where} HEALTHCHECK")

    def models_dir_in_image(self, where, server, instrs):
        models = server.value("models_dir", self.helps)
        if not models:
            self.err(f"{where} CMD: no --models_dir")
            return
        parent = posixpath.dirname(norm(models))
        if not any(i == "RUN" and re.search(
                r"mkdir\b[^&;]*\s" + re.escape(parent) + r"(\s|$)", a)
                   for i, a in instrs):
            self.err(f"{where}: the image does not create {parent}, the "
                     f"parent of --models_dir")

    def check_health_invocations(self, invs, port, where):
        """The health check runs `query --server=127.0.0.1:PORT --health`."""
        queries = [i for i in invs if i.binary == "query"]
        if not queries:
            self.err(f"{where}: not `query --server=127.0.0.1:PORT --health`")
            return
        for inv in invs:
            check_flags(inv, self.helps, self.errors)
        for q in queries:
            if not q.has("health"):
                self.err(f"{where}: query without --health")
            target = q.value("server") or ""
            host, _, p = target.rpartition(":")
            if host not in ("127.0.0.1", "localhost", "[::1]"):
                self.err(f"{where}: health check must dial the local server, "
                         f"not {target!r}")
            if port is not None and to_int(p) != port:
                self.err(f"{where}: health check dials port {p}, the server "
                         f"listens on {port}")

    # -- The two images and the image build script -------------------------

    def dockerfile_stages(self, instrs):
        """Returns (global ARG defaults, [stage]) of a Dockerfile; a stage is
        {"from": image, "name": alias, "instrs": [(instr, args)]}."""
        args, stages = {}, []
        for instr, a in instrs:
            if instr == "FROM":
                words = a.split()
                words = [w for w in words if not w.startswith("--")]
                stage = {"from": words[0] if words else "", "name": None,
                         "instrs": []}
                if len(words) >= 3 and words[1].upper() == "AS":
                    stage["name"] = words[2]
                stages.append(stage)
            elif stages:
                stages[-1]["instrs"].append((instr, a))
            elif instr == "ARG":
                name, _, default = a.partition("=")
                args[name.strip()] = default.strip().strip('"')
        return args, stages

    @staticmethod
    def expand(text, args):
        return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
                      lambda m: args.get(m.group(1), m.group(0)), text)

    def base_image(self, stages, stage, args):
        """The image a stage starts from, following FROM <earlier stage>."""
        seen = set()
        while stage is not None and id(stage) not in seen:
            seen.add(id(stage))
            parent = next((s for s in stages if s["name"] == stage["from"]),
                          None)
            if parent is None:
                return self.expand(stage["from"], args)
            stage = parent
        return None

    @staticmethod
    def stage_env(stage):
        env = {}
        for instr, a in stage["instrs"]:
            if instr != "ENV":
                continue
            for w in shlex.split(a):
                name, eq, value = w.partition("=")
                if eq:
                    env[name] = value
        return env

    @staticmethod
    def runtime_contract(stage):
        """What a deployment relies on in a runtime stage, comparable between
        the two images: user, directories, ports, signal, checks, command."""
        keep = ("USER", "WORKDIR", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK",
                "CMD", "ENTRYPOINT")
        out = [(i, " ".join(a.split())) for i, a in stage["instrs"]
               if i in keep]
        for i, a in stage["instrs"]:
            if i == "COPY" and "--from=" in a:
                out.append((i, " ".join(a.split())))
            if i == "RUN":
                for pattern in (r"groupadd[^&;]*", r"useradd[^&;]*",
                                r"mkdir -p [^&;]*", r"chown [^&;]*"):
                    out.extend(("RUN", " ".join(m.split()))
                               for m in re.findall(pattern, a))
        path = Checker.stage_env(stage).get("PATH", "")
        out.append(("ENV PATH", path))
        return out

    def check_images_agree(self):
        """Both Dockerfiles build offline on the bases build_image.sh makes,
        cache Bazel where it writes, and give deployments the same runtime;
        the CUDA build stage sets what --config=cuda reads, at the paths its
        own steps install to. A dry run of Dockerfile.cuda, which needs
        NVIDIA's toolchain to build."""
        files = {}
        for name in ("Dockerfile", "Dockerfile.cuda"):
            path = os.path.join(self.deploy, "docker", name)
            if not os.path.exists(path):
                return  # reported by check_dockerfile
            text = self.read(path)
            where = self.rel(path)
            # A parser directive makes BuildKit fetch a frontend image: no
            # build without a registry.
            for line in text.split("\n"):
                if not line.startswith("#"):
                    break
                if re.match(r"#\s*syntax\s*=", line):
                    self.err(f"{where}: '{line.strip()}' needs a registry; "
                             f"use the daemon's built-in frontend")
            args, stages = self.dockerfile_stages(
                self.dockerfile_instructions(text))
            files[name] = (where, args, stages)

        script = os.path.join(self.deploy, "docker", "build_image.sh")
        release = None
        if not os.path.exists(script):
            self.err("deploy/docker/build_image.sh: missing")
        else:
            text = self.read(script)
            m = re.search(r"^RELEASE=(\w+)", text, re.M)
            release = m.group(1) if m else None
            if not release:
                self.err("deploy/docker/build_image.sh: no RELEASE=<suite>")
            if "-f deploy/docker/Dockerfile " not in text:
                self.err("deploy/docker/build_image.sh: does not build "
                         "deploy/docker/Dockerfile")
            if "DOCKER_BUILDKIT=1" not in text:
                self.err("deploy/docker/build_image.sh: builds without "
                         "BuildKit (DOCKER_BUILDKIT=1), which RUN --mount "
                         "needs")
        made = ({f"debian:{release}", f"debian:{release}-slim"}
                if release else set())

        contracts, cache_ids = {}, {}
        for name, (where, args, stages) in files.items():
            build = next((s for s in stages if s["name"] == "build"), None)
            runtime = stages[-1] if stages else None
            if build is None or runtime is None or runtime is build:
                self.err(f"{where}: needs a 'build' stage and a final "
                         f"runtime stage")
                continue
            for stage, want in ((build, f"debian:{release}"),
                                (runtime, f"debian:{release}-slim")):
                base = self.base_image(stages, stage, args)
                if made and base not in made:
                    self.err(f"{where}: stage {stage['name'] or 'runtime'} "
                             f"starts from {base}, not one of the bases "
                             f"build_image.sh makes ({sorted(made)})")
                elif made and base != want:
                    self.err(f"{where}: stage {stage['name'] or 'runtime'} "
                             f"starts from {base}, want {want}")
            # The Bazel cache mount covers the output base (~/.cache/bazel)
            # and .bazelrc's --disk_cache (~/.cache/...) of root.
            for instr, a in build["instrs"]:
                if instr != "RUN" or "deploy/build_release.sh" not in a:
                    continue
                m = re.search(r"--mount=(\S+)", a)
                opts = dict(o.partition("=")[::2]
                            for o in (m.group(1).split(",") if m else []))
                if opts.get("type") != "cache":
                    self.err(f"{where}: build_release.sh runs without a "
                             f"Bazel cache mount (--mount=type=cache)")
                    continue
                if norm(opts.get("target", "")) != "/root/.cache":
                    self.err(f"{where}: the cache mount's target is "
                             f"{opts.get('target')}, not /root/.cache "
                             f"(Bazel's output base and disk cache)")
                if opts.get("sharing") != "locked":
                    self.err(f"{where}: the cache mount needs sharing=locked "
                             f"(one Bazel server per output base)")
                cache_ids[name] = opts.get("id")
            contracts[name] = self.runtime_contract(runtime)
            if name == "Dockerfile.cuda":
                self.check_cuda_build_stage(where, stages, build)

        if len(set(cache_ids.values())) != len(cache_ids) or \
                None in cache_ids.values():
            self.err(f"deploy/docker: the CPU and CUDA builds need their own "
                     f"cache mount id (now {cache_ids})")
        if len(contracts) == 2:
            cpu, cuda = contracts["Dockerfile"], contracts["Dockerfile.cuda"]
            for item in cpu:
                if item not in cuda:
                    self.err(f"deploy/docker/Dockerfile.cuda: runtime stage "
                             f"lacks {item[0]} {item[1]!r} of the CPU image")
            for item in cuda:
                if item not in cpu:
                    self.err(f"deploy/docker/Dockerfile.cuda: runtime stage "
                             f"has {item[0]} {item[1]!r}, which the CPU "
                             f"image does not")

    def check_cuda_build_stage(self, where, stages, build):
        env = {}
        chain, stage = [], build
        while stage is not None and stage not in chain:
            chain.insert(0, stage)
            stage = next((s for s in stages if s["name"] == stage["from"]),
                         None)
        text = ""
        for s in chain:
            env.update(self.stage_env(s))
            text += "\n".join(a for i, a in s["instrs"] if i == "RUN") + "\n"
        usage = self.read(os.path.join(self.deploy, "build_release.sh"))
        wanted = re.findall(r"\b([A-Z][A-Z0-9_]*(?:_PREFIX|_HOME))\b",
                            usage.split("set -euo pipefail")[0])
        for var in sorted(set(wanted)):
            if var not in env:
                self.err(f"{where}: the build stage does not set {var} "
                         f"(deploy/build_release.sh --config=cuda needs it)")
        # Each prefix holds what the stage's own checks expect there.
        for var, files in (("LIBTORCH_CUDA_PREFIX", ["lib/libtorch_cuda.so"]),
                           ("FAISS_CUDA_PREFIX", ["lib/libfaiss.so"])):
            prefix = env.get(var)
            for f in files:
                if prefix and f"test -f {prefix}/{f}" not in text:
                    self.err(f"{where}: nothing checks {prefix}/{f} "
                             f"({var}={prefix})")
        cuda_home = env.get("CUDA_HOME")
        if cuda_home and not re.search(
                r"ln -sfn \S+ " + re.escape(cuda_home) + r"(\s|$)", text):
            self.err(f"{where}: CUDA_HOME={cuda_home} is not where the "
                     f"toolkit is linked (ln -sfn ... {cuda_home})")
        for m in re.finditer(r"EXTRA_LIB_DIRS=(\S+)", text):
            for d in m.group(1).split(":"):
                if not any(env.get(v) and under(d, env[v]) for v in
                           ("LIBTORCH_CUDA_PREFIX", "FAISS_CUDA_PREFIX",
                            "CUDA_HOME")):
                    self.err(f"{where}: EXTRA_LIB_DIRS names {d}, outside "
                             f"the prefixes the build uses")

    # -- Kubernetes -------------------------------------------------------

    def load_yaml(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                return [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            self.err(f"{self.rel(path)}: not valid YAML: {e}")
            return []

    def check_kubernetes(self):
        kdir = os.path.join(self.deploy, "k8s")
        files = sorted(f for f in os.listdir(kdir) if f.endswith(".yaml"))
        objs = []
        for f in files:
            for doc in self.load_yaml(os.path.join(kdir, f)):
                if not isinstance(doc, dict):
                    self.err(f"deploy/k8s/{f}: a document is not a mapping")
                    continue
                objs.append((f"deploy/k8s/{f}", doc))
        namespaces = {d["metadata"]["name"] for _, d in objs
                      if d.get("kind") == "Namespace"}
        for where, d in objs:
            kind = d.get("kind")
            name = (d.get("metadata") or {}).get("name")
            if kind not in API_VERSIONS:
                self.err(f"{where}: unexpected kind {kind!r}")
            elif d.get("apiVersion") != API_VERSIONS[kind]:
                self.err(f"{where}: {kind} {name} has apiVersion "
                         f"{d.get('apiVersion')}, want {API_VERSIONS[kind]}")
            if not name:
                self.err(f"{where}: {kind} without metadata.name")
            ns = (d.get("metadata") or {}).get("namespace")
            if kind != "Namespace" and namespaces and ns not in namespaces:
                self.err(f"{where}: {kind} {name} is in namespace {ns!r}, "
                         f"not {sorted(namespaces)}")
        configmaps = {d["metadata"]["name"]: d.get("data") or {}
                      for _, d in objs if d.get("kind") == "ConfigMap"}
        pods = []
        for where, d in objs:
            kind = d.get("kind")
            name = d["metadata"]["name"]
            spec = d.get("spec") or {}
            if kind in ("Deployment", "Job"):
                pods.append((f"{where}: {kind} {name}", d, None,
                             spec.get("template") or {}))
            elif kind == "PyTorchJob":
                for rtype, rs in (spec.get("pytorchReplicaSpecs") or
                                  {}).items():
                    pods.append((f"{where}: {kind} {name} {rtype}", d, rtype,
                                 (rs or {}).get("template") or {}))
        server_pods = []
        for where, obj, rtype, template in pods:
            info = self.check_pod(where, template, configmaps)
            if info.get("server"):
                server_pods.append((where, obj, template, info))
        if not server_pods:
            self.err("deploy/k8s: no Deployment runs " + SERVER)
        self.check_services(objs, pods, server_pods)
        self.check_hpa_pdb(objs, server_pods)
        self.check_training(objs, pods)
        self.check_export_shards(pods)

    def check_export_shards(self, pods):
        """An export that encodes shards runs in an Indexed Job of
        --num_shards completions, takes its shard from the Job, and writes
        to the --shard_dir that a merging export reads, with the same
        weights."""
        jobs = {}
        for where, obj, _, template in pods:
            for c in (template.get("spec") or {}).get("containers") or []:
                jobs[f"{where} container {c.get('name')}"] = obj
        encoders = []
        mergers = []
        for cwhere, inv, shard_claim in self.export_shards:
            shards = to_int(inv.value("num_shards", self.helps)) or 0
            if inv.value("merge_shards", self.helps) == "true":
                mergers.append((cwhere, inv, shard_claim))
                continue
            if shards <= 1:
                continue
            encoders.append((cwhere, inv, shard_claim))
            jspec = (jobs.get(cwhere) or {}).get("spec") or {}
            if jspec.get("completionMode") != "Indexed":
                self.err(f"{cwhere}: export --num_shards={shards} must run "
                         f"in an Indexed Job (one pod per shard)")
            elif jspec.get("completions") != shards:
                self.err(f"{cwhere}: export --num_shards={shards}, the Job "
                         f"has {jspec.get('completions')} completions")
            if to_int(jspec.get("parallelism")) is not None and to_int(
                    jspec.get("parallelism")) > shards:
                self.err(f"{cwhere}: parallelism above --num_shards")
            if inv.has("shard_index"):
                self.err(f"{cwhere}: --shard_index is set; each pod's "
                         f"shard comes from $JOB_COMPLETION_INDEX")
            if shard_claim is None:
                self.err(f"{cwhere}: --shard_dir is not on a "
                         f"PersistentVolumeClaim the merge can read")
        for cwhere, inv, shard_claim in mergers:
            same = [e for e in encoders if e[2] == shard_claim]
            if not same:
                self.err(f"{cwhere}: export --merge_shards reads "
                         f"--shard_dir={inv.value('shard_dir')} "
                         f"({shard_claim}), which no sharded export writes")
            for ewhere, einv, _ in same:
                if einv.value("weights") != inv.value("weights"):
                    self.err(f"{cwhere}: merges with --weights="
                             f"{inv.value('weights')}, {ewhere} encoded "
                             f"with {einv.value('weights')}")
        for ewhere, _, claim in encoders:
            if not any(m[2] == claim for m in mergers):
                self.err(f"{ewhere}: no export --merge_shards reads its "
                         f"--shard_dir")

    def container_invocations(self, c, where):
        tokens = []
        for key in ("command", "args"):
            v = c.get(key)
            if isinstance(v, list):
                tokens.extend(str(x) for x in v)
            elif v is not None:
                self.err(f"{where}: {key} must be a list")
        return scan_tokens(tokens, self.binaries, where)

    def check_pod(self, where, template, configmaps):
        info = {}
        spec = template.get("spec") or {}
        meta = template.get("metadata") or {}
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        containers = spec.get("containers") or []
        inits = spec.get("initContainers") or []
        if not containers:
            self.err(f"{where}: no containers")
        for c in inits + containers:
            cwhere = f"{where} container {c.get('name')}"
            env = {e["name"]: str(e["value"]) for e in c.get("env") or []
                   if "value" in e}
            mounts = c.get("volumeMounts") or []
            for m in mounts:
                if m.get("name") not in volumes:
                    self.err(f"{cwhere}: mounts undefined volume "
                             f"{m.get('name')!r}")
            invs = self.container_invocations(c, cwhere)
            for inv in invs:
                self.expand_flagfile(inv, c, volumes, configmaps, cwhere)
                check_flags(inv, self.helps, self.errors)
                self.check_paths(inv, mounts, env, cwhere)
                if inv.binary == "export":
                    self.export_shards.append((cwhere, inv, self.claim_path(
                        inv.value("shard_dir", self.helps) or "/", mounts,
                        volumes)))
                if inv.binary == "export" and inv.value("models_dir",
                                                        self.helps):
                    self.export_models_dirs.append(
                        (cwhere, inv.value("models_dir", self.helps),
                         self.claim_at(inv.value("models_dir", self.helps),
                                       mounts, volumes)))
                    images = inv.value("images", self.helps)
                    if images:
                        self.export_images.append(
                            (cwhere, images,
                             self.claim_path(images, mounts, volumes)))
            servers = [i for i in invs if i.binary == SERVER]
            if servers and c in containers:
                info["server"] = True
                self.check_server_container(where, cwhere, spec, meta, c,
                                            servers[-1], volumes, inits)
                info["ports"] = {
                    f"--{f}": to_int(servers[-1].value(f, self.helps))
                    for f in ("port", "http_port")}
        return info

    @staticmethod
    def mount_of(path, mounts):
        """The innermost mount holding `path`, or None."""
        best = None
        for m in mounts:
            mp = m.get("mountPath", "")
            if path and under(path, mp) and (
                    best is None or len(mp) > len(best.get("mountPath"))):
                best = m
        return best

    def claim_path(self, path, mounts, volumes):
        """(claim, path inside the claim) of an absolute path in a pod, or
        None when no PersistentVolumeClaim mount holds it."""
        m = self.mount_of(norm(path), mounts)
        if m is None:
            return None
        v = volumes.get(m.get("name")) or {}
        claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
        if not claim:
            return None
        rel = posixpath.relpath(norm(path), norm(m.get("mountPath")))
        inner = posixpath.normpath(posixpath.join(m.get("subPath") or ".",
                                                  rel))
        return claim, inner

    def claim_at(self, path, mounts, volumes):
        if not path:
            return None
        best = None
        for m in mounts:
            mp = m.get("mountPath", "")
            if under(path, mp) and (best is None or
                                    len(mp) > len(best.get("mountPath"))):
                best = m
        if best is None:
            return None
        v = volumes.get(best.get("name")) or {}
        return (v.get("persistentVolumeClaim") or {}).get("claimName")

    def expand_flagfile(self, inv, c, volumes, configmaps, where):
        """Inlines --flagfile=PATH from its ConfigMap into inv.flags."""
        out = []
        for name, value in inv.flags:
            if name != "flagfile":
                out.append((name, value))
                continue
            out.append((name, value))
            path = norm(value or "")
            mount = None
            for m in c.get("volumeMounts") or []:
                mp = norm(m.get("mountPath", ""))
                sub = m.get("subPath")
                if (sub and mp == path) or (not sub and
                                            posixpath.dirname(path) == mp):
                    mount = m
            if mount is None:
                self.err(f"{where}: --flagfile={value} is not in a mounted "
                         f"volume (mount the ConfigMap at "
                         f"{posixpath.dirname(path)})")
                continue
            vol = volumes.get(mount.get("name")) or {}
            cm = vol.get("configMap")
            if not cm:
                self.err(f"{where}: --flagfile={value} is mounted from "
                         f"volume {mount.get('name')}, not a ConfigMap")
                continue
            key = mount.get("subPath") or posixpath.basename(path)
            items = cm.get("items")
            if items:
                by_path = {i.get("path"): i.get("key") for i in items}
                key = by_path.get(key)
            data = configmaps.get(cm.get("name"))
            if data is None:
                self.err(f"{where}: ConfigMap {cm.get('name')} of "
                         f"--flagfile={value} is not defined in deploy/k8s")
                continue
            if key not in data:
                self.err(f"{where}: ConfigMap {cm.get('name')} has no key "
                         f"{key!r} for --flagfile={value}")
                continue
            fwhere = f"ConfigMap {cm.get('name')} {key}"
            active, commented = parse_flagfile(data[key], fwhere, self.errors)
            probe = Invocation(inv.binary, fwhere + " (commented out)")
            probe.flags = commented
            check_flags(probe, self.helps, self.errors)
            for n, v in active:
                out.append((n, v))
            inv.where = f"{where} + {fwhere}"
        inv.flags = out

    def check_paths(self, inv, mounts, env, where):
        for name, value in inv.flags:
            if name not in PATH_FLAGS and not (inv.binary == "export" and
                                               name == "models_dir"):
                continue
            value = resolve(value, env)
            if not value or not value.startswith("/") or "$" in value:
                continue
            holders = [m for m in mounts
                       if under(value, m.get("mountPath", ""))]
            if not holders:
                self.err(f"{where}: {inv.binary} --{name}={value} is not "
                         f"under any volume mount")
                continue
            writes = name in OUTPUT_FLAGS or (inv.binary == "export" and (
                name == "models_dir" or (
                    name == "shard_dir" and
                    inv.value("merge_shards", self.helps) != "true")))
            best = max(holders, key=lambda m: len(m.get("mountPath", "")))
            if writes and best.get("readOnly"):
                self.err(f"{where}: {inv.binary} --{name}={value} writes to "
                         f"read-only mount {best.get('mountPath')}")

    def check_server_container(self, where, cwhere, spec, meta, c, inv,
                               volumes, inits):
        h = self.helps
        port = to_int(inv.value("port", h))
        metrics = to_int(inv.value("metrics_port", h))
        grace = to_int(inv.value("grace_period_s", h))
        host = inv.value("host", h)
        if host not in ("0.0.0.0", "::", "[::]"):
            self.err(f"{inv.where}: --host={host}; a server in a pod must "
                     f"listen on 0.0.0.0")
        ports = {p.get("name"): p.get("containerPort")
                 for p in c.get("ports") or []}
        if port not in ports.values():
            self.err(f"{cwhere}: no containerPort {port} (the server's "
                     f"--port)")
        http = to_int(inv.value("http_port", h))
        if http == 0:
            self.err(f"{inv.where}: --http_port=0 picks a random port; a pod "
                     f"needs a fixed one for its containerPort")
        elif http is not None and http > 0:
            if http not in ports.values():
                self.err(f"{cwhere}: no containerPort {http} (the server's "
                         f"--http_port)")
            self.server_galleries.append(
                (cwhere, inv.value("gallery_images_dir") or None,
                 c.get("volumeMounts") or [], volumes))
        probes = 0
        for pname in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = c.get(pname)
            if not probe:
                continue
            probes += 1
            if "grpc" in probe:
                pp = probe["grpc"].get("port")
                if pp != port:
                    self.err(f"{cwhere}: {pname} port {pp}, the server's "
                             f"--port is {port}")
            elif "exec" in probe:
                invs = scan_tokens([str(x) for x in
                                    probe["exec"].get("command") or []],
                                   self.binaries, f"{cwhere} {pname}")
                self.check_health_invocations(invs, port, f"{cwhere} {pname}")
            else:
                self.err(f"{cwhere}: {pname} must use the gRPC health "
                         f"service (grpc: or exec query --health)")
        if not c.get("readinessProbe"):
            self.err(f"{cwhere}: no readinessProbe")
        if metrics:
            if metrics not in ports.values():
                self.err(f"{cwhere}: no containerPort {metrics} (the "
                         f"server's --metrics_port)")
            ann = meta.get("annotations") or {}
            if str(ann.get("prometheus.io/scrape")) != "true":
                self.err(f"{where}: pod template lacks annotation "
                         f"prometheus.io/scrape: \"true\"")
            if to_int(ann.get("prometheus.io/port")) != metrics:
                self.err(f"{where}: prometheus.io/port is "
                         f"{ann.get('prometheus.io/port')!r}, the server's "
                         f"--metrics_port is {metrics}")
        tgps = spec.get("terminationGracePeriodSeconds", 30)
        sleep = 0
        pre = ((c.get("lifecycle") or {}).get("preStop") or {})
        if "exec" in pre:
            cmd = [str(x) for x in pre["exec"].get("command") or []]
            words = cmd if len(cmd) != 3 or cmd[1] != "-c" else \
                shell_tokens(cmd[2])
            for i, w in enumerate(words):
                if w is not None and w.rsplit("/", 1)[-1] == "sleep" and \
                        i + 1 < len(words):
                    sleep = to_int(words[i + 1]) or 0
        elif "sleep" in pre:
            sleep = to_int(pre["sleep"].get("seconds")) or 0
        else:
            self.err(f"{cwhere}: no preStop sleep (endpoints need time to "
                     f"drain before the server stops accepting)")
        if grace is not None and not tgps > grace + sleep:
            self.err(f"{where}: terminationGracePeriodSeconds {tgps} must "
                     f"exceed --grace_period_s {grace} + preStop sleep "
                     f"{sleep}")
        models = inv.value("models_dir", h)
        if not models:
            self.err(f"{inv.where}: no --models_dir")
            return
        parent = posixpath.dirname(norm(models))
        mounts = c.get("volumeMounts") or []
        mm = [m for m in mounts if norm(m.get("mountPath")) == parent]
        if not mm:
            self.err(f"{cwhere}: nothing mounted at {parent}, the parent of "
                     f"--models_dir={models}")
        else:
            vol = volumes.get(mm[0].get("name")) or {}
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                self.err(f"{cwhere}: the models mount {parent} is not a "
                         f"PersistentVolumeClaim")
            self.server_models_dirs.append((cwhere, models, claim))
            for ic in inits:
                text = " ".join(str(x) for x in (ic.get("command") or []) +
                                (ic.get("args") or []))
                if norm(models) not in text:
                    self.err(f"{where} init container {ic.get('name')}: does "
                             f"not look at {models} (--models_dir)")
                imounts = [m for m in ic.get("volumeMounts") or []
                           if m.get("name") == mm[0].get("name")]
                if not imounts or norm(imounts[0].get("mountPath")) != parent:
                    self.err(f"{where} init container {ic.get('name')}: must "
                             f"mount volume {mm[0].get('name')} at {parent}")
        threads = to_int(inv.value("threads", h))
        env = {e["name"]: str(e.get("value")) for e in c.get("env") or []}
        if "OMP_NUM_THREADS" in env and threads and \
                to_int(env["OMP_NUM_THREADS"]) != threads:
            self.err(f"{cwhere}: OMP_NUM_THREADS {env['OMP_NUM_THREADS']} "
                     f"differs from --threads {threads}")
        cpu = ((c.get("resources") or {}).get("requests") or {}).get("cpu")
        if cpu is None:
            self.err(f"{cwhere}: no CPU request (the HPA scales on CPU "
                     f"utilisation of the request)")

    @staticmethod
    def selects(selector, labels):
        if not selector:
            return False
        return all(labels.get(k) == v for k, v in selector.items())

    def check_services(self, objs, pods, server_pods):
        headless_grpc = False
        for where, d in objs:
            if d.get("kind") != "Service":
                continue
            name = d["metadata"]["name"]
            spec = d.get("spec") or {}
            sel = spec.get("selector") or {}
            matched = [(w, t) for w, _, _, t in pods if self.selects(
                sel, ((t.get("metadata") or {}).get("labels") or {}))]
            if not matched:
                self.err(f"{where}: Service {name} selects no pod template")
                continue
            headless = spec.get("clusterIP") == "None"
            for sp in spec.get("ports") or []:
                target = sp.get("targetPort", sp.get("port"))
                for w, t in matched:
                    cports = [p for c in (t.get("spec") or {}).get(
                        "containers") or [] for p in c.get("ports") or []]
                    hit = [p for p in cports if p.get("name") == target or
                           p.get("containerPort") == target]
                    if not hit:
                        self.err(f"{where}: Service {name} port "
                                 f"{sp.get('name')} targets {target!r}, "
                                 f"which {w} does not expose")
                    elif headless and hit[0].get("containerPort") != \
                            sp.get("port"):
                        self.err(f"{where}: headless Service {name}: clients "
                                 f"dial pod IPs at port {sp.get('port')}, the "
                                 f"container listens on "
                                 f"{hit[0].get('containerPort')}")
                    elif headless and any(w == sw for sw, _, _, _ in
                                          server_pods):
                        headless_grpc = True
        if server_pods and not headless_grpc:
            self.err("deploy/k8s: no headless Service (clusterIP: None) "
                     "selects the server pods")
        self.check_server_ports_served(objs, server_pods)

    def check_server_ports_served(self, objs, server_pods):
        """Some Service port leads to each of the server's --port and
        --http_port."""
        for sw, _, template, info in server_pods:
            labels = (template.get("metadata") or {}).get("labels") or {}
            cports = [p for c in (template.get("spec") or {}).get(
                "containers") or [] for p in c.get("ports") or []]
            reached = set()
            for _, d in objs:
                spec = d.get("spec") or {}
                if d.get("kind") != "Service" or not self.selects(
                        spec.get("selector"), labels):
                    continue
                for sp in spec.get("ports") or []:
                    target = sp.get("targetPort", sp.get("port"))
                    reached.update(p.get("containerPort") for p in cports
                                   if p.get("name") == target or
                                   p.get("containerPort") == target)
            for flag, p in info.get("ports", {}).items():
                if p and p > 0 and p not in reached:
                    self.err(f"deploy/k8s: no Service port reaches the "
                             f"server's {flag} {p} ({sw})")

    def check_hpa_pdb(self, objs, server_pods):
        deployments = {d["metadata"]["name"]: (w, d) for w, d in objs
                       if d.get("kind") == "Deployment"}
        hpa_min = {}
        for where, d in objs:
            if d.get("kind") != "HorizontalPodAutoscaler":
                continue
            spec = d.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            target = deployments.get(ref.get("name"))
            if ref.get("kind") != "Deployment" or target is None:
                self.err(f"{where}: HPA targets {ref.get('kind')} "
                         f"{ref.get('name')}, not a Deployment in deploy/k8s")
                continue
            if "replicas" in (target[1].get("spec") or {}):
                self.err(f"{target[0]}: Deployment {ref.get('name')} sets "
                         f"spec.replicas while an HPA scales it (re-applying "
                         f"would reset the replica count)")
            mins = spec.get("minReplicas", 1)
            if mins > spec.get("maxReplicas", 0):
                self.err(f"{where}: minReplicas > maxReplicas")
            hpa_min[ref.get("name")] = mins
            if not any(m.get("type") == "Resource" and
                       (m.get("resource") or {}).get("name") == "cpu"
                       for m in spec.get("metrics") or []):
                self.err(f"{where}: HPA does not scale on CPU")
        pdb_found = False
        for where, d in objs:
            if d.get("kind") != "PodDisruptionBudget":
                continue
            spec = d.get("spec") or {}
            sel = (spec.get("selector") or {}).get("matchLabels") or {}
            for sw, sobj, st, _ in server_pods:
                labels = (st.get("metadata") or {}).get("labels") or {}
                if self.selects(sel, labels):
                    pdb_found = True
                    mins = hpa_min.get(sobj["metadata"]["name"], 1)
                    ma = spec.get("minAvailable")
                    if isinstance(ma, int) and ma >= mins:
                        self.err(f"{where}: minAvailable {ma} >= HPA "
                                 f"minReplicas {mins}: drains would block")
        if server_pods and not pdb_found:
            self.err("deploy/k8s: no PodDisruptionBudget selects the server "
                     "pods")
        if server_pods and not hpa_min:
            self.err("deploy/k8s: no HorizontalPodAutoscaler for the server")

    def check_training(self, objs, pods):
        services = {d["metadata"]["name"]: d for _, d in objs
                    if d.get("kind") == "Service"}
        launches = 0
        for where, obj, rtype, template in pods:
            spec = template.get("spec") or {}
            kind = obj.get("kind")
            for c in spec.get("containers") or []:
                cwhere = f"{where} container {c.get('name')}"
                env = {e["name"]: str(e["value"]) for e in c.get("env") or []
                       if "value" in e}
                invs = self.container_invocations(c, cwhere)
                launch = [i for i in invs if i.binary == "launch"]
                trains = [i for i in invs if i.binary == "train"]
                training = kind == "PyTorchJob" or (
                    kind == "Job" and (obj.get("spec") or {}).get(
                        "completionMode") == "Indexed" and not any(
                            i.binary == "export" for i in invs))
                if not launch:
                    if training:
                        self.err(f"{cwhere}: does not run "
                                 f"/opt/retrieval/bin/launch")
                    continue
                launches += 1
                if not trains:
                    self.err(f"{cwhere}: launch does not start "
                             f"/opt/retrieval/bin/train after --")
                inv = launch[0]
                res = c.get("resources") or {}
                gpus = to_int((res.get("limits") or {}).get("nvidia.com/gpu"))
                nproc = to_int(resolve(inv.value("nproc_per_node"), env))
                if nproc is None:
                    self.err(f"{cwhere}: launch --nproc_per_node="
                             f"{inv.value('nproc_per_node')} does not resolve "
                             f"to a number through the container env")
                elif gpus is not None and nproc != gpus:
                    self.err(f"{cwhere}: launch starts {nproc} processes per "
                             f"node, the pod has {gpus} nvidia.com/gpu")
                for t in trains:
                    device = t.value("device", self.helps)
                    if gpus and device != "cuda":
                        self.err(f"{cwhere}: GPU pod trains with "
                                 f"--device={device}")
                if gpus:
                    shm = [m for m in c.get("volumeMounts") or []
                           if m.get("mountPath") == "/dev/shm"]
                    vols = {v.get("name"): v
                            for v in spec.get("volumes") or []}
                    if not shm or ((vols.get(shm[0].get("name")) or {}).get(
                            "emptyDir") or {}).get("medium") != "Memory":
                        self.err(f"{cwhere}: needs /dev/shm from an emptyDir "
                                 f"with medium: Memory (NCCL)")
                nnodes = to_int(resolve(inv.value("nnodes"), env))
                if kind == "PyTorchJob":
                    self.check_pytorchjob(obj, c, cwhere, inv, nnodes, rtype)
                elif kind == "Job":
                    self.check_indexed_job(obj, spec, template, c, cwhere,
                                           inv, env, nnodes, services)
        if launches == 0:
            self.err("deploy/k8s: no training manifest runs launch")

    def check_pytorchjob(self, obj, c, cwhere, inv, nnodes, rtype):
        specs = obj["spec"].get("pytorchReplicaSpecs") or {}
        total = sum((s or {}).get("replicas", 1) for s in specs.values())
        if nnodes != total:
            self.err(f"{cwhere}: launch --nnodes resolves to {nnodes}, the "
                     f"PyTorchJob has {total} replicas")
        if c.get("name") != "pytorch":
            self.err(f"{cwhere}: the training operator needs the container "
                     f"to be named 'pytorch'")
        if rtype == "Master" and not any(
                p.get("name") == "pytorchjob-port"
                for p in c.get("ports") or []):
            self.err(f"{cwhere}: Master needs a port named pytorchjob-port "
                     f"(it becomes MASTER_PORT)")
        for flag, var in (("node_rank", "RANK"), ("master_addr",
                                                  "MASTER_ADDR"),
                          ("master_port", "MASTER_PORT")):
            if var_name(inv.value(flag)) != var:
                self.err(f"{cwhere}: launch --{flag} must come from ${var} "
                         f"(set by the training operator)")

    def check_indexed_job(self, obj, spec, template, c, cwhere, inv, env,
                          nnodes, services):
        jspec = obj.get("spec") or {}
        name = obj["metadata"]["name"]
        if jspec.get("completionMode") != "Indexed":
            self.err(f"{cwhere}: a training Job must be completionMode: "
                     f"Indexed")
        n = jspec.get("completions")
        if jspec.get("parallelism") != n:
            self.err(f"{cwhere}: parallelism {jspec.get('parallelism')} != "
                     f"completions {n}: every node must run at once")
        if nnodes != n:
            self.err(f"{cwhere}: launch --nnodes resolves to {nnodes}, the "
                     f"Job has {n} completions")
        if var_name(inv.value("node_rank")) != "JOB_COMPLETION_INDEX":
            self.err(f"{cwhere}: launch --node_rank must be "
                     f"$JOB_COMPLETION_INDEX")
        sub = spec.get("subdomain")
        svc = services.get(sub)
        labels = (template.get("metadata") or {}).get("labels") or {}
        if svc is None:
            self.err(f"{cwhere}: pod subdomain {sub!r} is not a Service in "
                     f"deploy/k8s")
        else:
            if (svc.get("spec") or {}).get("clusterIP") != "None":
                self.err(f"{cwhere}: Service {sub} must be headless")
            if not self.selects((svc.get("spec") or {}).get("selector"),
                                labels):
                self.err(f"{cwhere}: Service {sub} does not select the Job's "
                         f"pods")
        addr = resolve(inv.value("master_addr"), env)
        want = f"{name}-0.{sub}"
        if addr is None or addr.split(".svc")[0] not in (
                want, f"{want}.{obj['metadata'].get('namespace')}"):
            self.err(f"{cwhere}: launch --master_addr resolves to {addr!r}, "
                     f"pod 0 is {want}")
        port = to_int(resolve(inv.value("master_port"), env))
        if port is None or port not in [p.get("containerPort")
                                        for p in c.get("ports") or []]:
            self.err(f"{cwhere}: --master_port {port} is not a containerPort")

    # -- compose ----------------------------------------------------------

    def check_compose(self):
        path = os.path.join(self.deploy, "docker", "compose.yaml")
        where = self.rel(path)
        docs = self.load_yaml(path)
        if len(docs) != 1 or not isinstance(docs[0], dict):
            self.err(f"{where}: expected one YAML document")
            return
        services = docs[0].get("services") or {}
        named_volumes = set((docs[0].get("volumes") or {}).keys())
        server = None
        exports = []
        for sname, svc in services.items():
            swhere = f"{where}: service {sname}"
            cmd = svc.get("command")
            tokens = cmd if isinstance(cmd, list) else (
                shell_tokens(cmd) if cmd else [])
            invs = scan_tokens([str(t) if t is not None else None
                                for t in tokens], self.binaries, swhere)
            mounts = []
            for v in svc.get("volumes") or []:
                if isinstance(v, str):
                    parts = v.split(":")
                    src, dst = parts[0], parts[1] if len(parts) > 1 else \
                        parts[0]
                    ro = len(parts) > 2 and "ro" in parts[2].split(",")
                else:
                    src, dst = v.get("source"), v.get("target")
                    ro = bool(v.get("read_only"))
                if src and not src.startswith((".", "/", "$", "~")) and \
                        src not in named_volumes:
                    self.err(f"{swhere}: volume {src!r} is not declared")
                mounts.append({"mountPath": dst, "readOnly": ro,
                               "source": src})
            for inv in invs:
                check_flags(inv, self.helps, self.errors)
                self.check_paths(inv, mounts, {}, swhere)
                if inv.binary == "export":
                    md = inv.value("models_dir", self.helps)
                    exports.append((swhere, md, self.compose_source(md,
                                                                    mounts),
                                    inv.value("images", self.helps),
                                    mounts))
            if invs and invs[0].binary != SERVER and not svc.get("profiles"):
                self.err(f"{swhere}: one-shot service without profiles "
                         f"(`up` would start it)")
            if any(i.binary == SERVER for i in invs):
                server = (sname, svc, [i for i in invs
                                       if i.binary == SERVER][-1], mounts)
        if server is None:
            self.err(f"{where}: no service runs {SERVER}")
            return
        sname, svc, inv, mounts = server
        swhere = f"{where}: service {sname}"
        h = self.helps
        port = to_int(inv.value("port", h))
        metrics = to_int(inv.value("metrics_port", h))
        http = to_int(inv.value("http_port", h))
        grace = to_int(inv.value("grace_period_s", h))
        if inv.value("host", h) not in ("0.0.0.0", "::", "[::]"):
            self.err(f"{swhere}: the server must listen on --host=0.0.0.0")
        published = set()
        for p in svc.get("ports") or []:
            if isinstance(p, dict):
                published.add(to_int(p.get("target")))
            else:
                published.add(to_int(str(p).split("/")[0].split(":")[-1]))
        for p, what in ((port, "--port"), (metrics, "--metrics_port"),
                        (http, "--http_port")):
            if p and p > 0 and p not in published:
                self.err(f"{swhere}: the server's {what} {p} is not a "
                         f"published container port")
        hc = (svc.get("healthcheck") or {}).get("test")
        if not hc:
            self.err(f"{swhere}: no healthcheck")
        else:
            words = hc if isinstance(hc, list) else shell_tokens(hc)
            if words and words[0] == "CMD-SHELL":
                words = shell_tokens(" ".join(words[1:]))
            invs = scan_tokens(words, self.binaries, f"{swhere} healthcheck")
            self.check_health_invocations(invs, port, f"{swhere} healthcheck")
        sgp = self.duration_s(svc.get("stop_grace_period", "10s"))
        if grace is not None and (sgp is None or not sgp > grace):
            self.err(f"{swhere}: stop_grace_period "
                     f"{svc.get('stop_grace_period', '10s')} must exceed "
                     f"--grace_period_s {grace}")
        models = inv.value("models_dir", h)
        parent = posixpath.dirname(norm(models or ""))
        if not any(norm(m["mountPath"]) == parent for m in mounts):
            self.err(f"{swhere}: nothing mounted at {parent}, the parent of "
                     f"--models_dir={models}")
        source = self.compose_source(models, mounts)
        for ewhere, md, esrc, _, _ in exports:
            if norm(md) != norm(models):
                self.err(f"{ewhere}: export --models_dir={md}, the server "
                         f"reads --models_dir={models}")
            elif esrc != source:
                self.err(f"{ewhere}: export writes volume {esrc!r}, the "
                         f"server reads {source!r}")
        if http is not None and http >= 0:
            gallery = inv.value("gallery_images_dir") or None
            for ewhere, _, _, images, emounts in exports:
                if not images:
                    continue
                self.check_gallery(
                    swhere, gallery, images, ewhere,
                    self.compose_location(gallery or images, mounts),
                    self.compose_location(images, emounts),
                    self.mount_of(norm(gallery or images), mounts))

    @classmethod
    def compose_location(cls, path, mounts):
        """(volume or host directory, path inside it) of a path in a
        compose service, or None."""
        m = cls.mount_of(norm(path), mounts)
        if m is None:
            return None
        return m["source"], posixpath.relpath(norm(path),
                                              norm(m["mountPath"]))

    def check_gallery(self, where, gallery, images, ewhere, have, want,
                      mount):
        """The server reads the gallery export read: `have` and `want` are
        (storage, path inside it) of the server's directory and of export's
        --images; `mount` is the server's mount holding the directory."""
        what = (f"--gallery_images_dir={gallery}" if gallery else
                f"no --gallery_images_dir: the manifest's dataset {images} "
                f"(export --images)")
        if have is None:
            if not gallery:  # a flag's path is checked by check_paths
                self.err(f"{where}: {what} is not on a mounted volume")
        elif want is not None and have != want:
            self.err(f"{where}: {what} is {have[0]}:{have[1]}, the gallery "
                     f"export encoded is {want[0]}:{want[1]} ({ewhere} "
                     f"--images={images})")
        if mount is not None and not mount.get("readOnly"):
            self.err(f"{where}: {what} lies on a writable mount at "
                     f"{mount.get('mountPath')}; mount it readOnly (the "
                     f"server only reads the images)")

    @staticmethod
    def compose_source(path, mounts):
        best = None
        for m in mounts:
            if path and under(path, m["mountPath"]) and (
                    best is None or len(m["mountPath"]) >
                    len(best["mountPath"])):
                best = m
        return best["source"] if best else None

    @staticmethod
    def duration_s(value):
        total = 0.0
        parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", str(value))
        if not parts:
            return None
        scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}
        for n, unit in parts:
            total += float(n) * scale[unit]
        return total

    # -- Slurm -------------------------------------------------------------

    def check_slurm(self):
        path = os.path.join(self.deploy, "slurm", "train.sbatch")
        where = self.rel(path)
        if not os.path.exists(path):
            self.err(f"{where}: missing")
            return
        text = self.read(path)
        directives = dict(re.findall(r"^#SBATCH\s+--([\w-]+)(?:=(\S+))?",
                                     text, re.M))
        env = {}
        for name, value in re.findall(
                r"^(?:export\s+)?([A-Za-z_]\w*)=(\S+)\s*$", text, re.M):
            env[name] = resolve(value.strip('"'), env) or value
        invs = scan_tokens(shell_tokens(text), self.binaries, where)
        for inv in invs:
            check_flags(inv, self.helps, self.errors)
        launch = [i for i in invs if i.binary == "launch"]
        if not launch:
            self.err(f"{where}: does not run launch")
            return
        if not re.search(r"^\s*srun\b", text, re.M):
            self.err(f"{where}: launch is not started with srun (one per "
                     f"node)")
        if directives.get("ntasks-per-node") != "1":
            self.err(f"{where}: #SBATCH --ntasks-per-node=1 (one launcher per "
                     f"node)")
        if not any(i.binary == "train" for i in invs):
            self.err(f"{where}: launch does not start train after --")
        inv = launch[0]
        gpus = to_int(directives.get("gpus-per-node"))
        nproc = to_int(resolve(inv.value("nproc_per_node"), env))
        if gpus is None:
            self.err(f"{where}: no #SBATCH --gpus-per-node=N")
        elif nproc != gpus:
            self.err(f"{where}: launch --nproc_per_node resolves to {nproc}, "
                     f"#SBATCH --gpus-per-node={gpus}")
        for flag, var in (("nnodes", "SLURM_NNODES"),
                          ("node_rank", "SLURM_NODEID")):
            if var_name(inv.value(flag)) != var:
                self.err(f"{where}: launch --{flag} must be ${var}")
        if not re.search(r"MASTER_ADDR=\$\(scontrol show hostnames", text):
            self.err(f"{where}: MASTER_ADDR must be the first host of "
                     f"`scontrol show hostnames`")
        if var_name(inv.value("master_addr")) != "MASTER_ADDR":
            self.err(f"{where}: launch --master_addr must be $MASTER_ADDR")
        for t in (i for i in invs if i.binary == "train"):
            if t.value("device", self.helps) != "cuda":
                self.err(f"{where}: GPU job trains with --device="
                         f"{t.value('device', self.helps)}")

    # -- cross-file -------------------------------------------------------

    def check_models_dirs(self):
        servers = {(m, c) for _, m, c in self.server_models_dirs}
        for where, md, claim in self.export_models_dirs:
            if not servers:
                continue
            if norm(md) not in {norm(m) for m, _ in servers}:
                self.err(f"{where}: export --models_dir={md}; the server "
                         f"reads {sorted(m for m, _ in servers)}")
            elif claim not in {c for _, c in servers}:
                self.err(f"{where}: export writes to claim {claim!r}, the "
                         f"server reads {sorted(c for _, c in servers)}")
        if self.server_models_dirs and not self.export_models_dirs:
            self.err("deploy/k8s: no export Job writes the server's "
                     "--models_dir")
        for where, gallery, mounts, volumes in self.server_galleries:
            for ewhere, images, want in self.export_images:
                path = gallery or images
                self.check_gallery(
                    where, gallery, images, ewhere,
                    self.claim_path(path, mounts, volumes), want,
                    self.mount_of(norm(path), mounts))

    def run(self, lint=True):
        self.check_build_release()
        if lint:
            self.yamllint()
        self.check_dockerfile("Dockerfile", cuda=False)
        self.check_dockerfile("Dockerfile.cuda", cuda=True)
        self.check_images_agree()
        self.check_kubernetes()
        self.check_compose()
        self.check_slurm()
        self.check_models_dirs()
        return self.errors

    def yamllint(self):
        files = []
        for d, _, names in os.walk(self.deploy):
            files.extend(os.path.join(d, n) for n in names
                         if n.endswith((".yaml", ".yml")))
        if not files:
            self.err("deploy/: no YAML files")
            return
        exe = os.environ.get("YAMLLINT", "yamllint")
        try:
            proc = subprocess.run(
                [exe, "-f", "parsable", "-c",
                 os.path.join(self.deploy, ".yamllint")] + sorted(files),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=120, check=False)
        except OSError as e:
            self.err(f"cannot run yamllint ({exe}): {e}")
            return
        out = proc.stdout.decode("utf-8", "replace")
        for line in out.splitlines():
            if "[error]" in line:
                self.err("yamllint: " + line.replace(self.root + "/", ""))
        if proc.returncode not in (0, 2) or (
                proc.returncode != 0 and "[error]" not in out):
            self.err(f"yamllint failed (exit {proc.returncode}): {out[:500]}")


# ---------------------------------------------------------------------------
# Mutations: known mistakes that must be reported.

MUTATIONS = [
    ("shard Job completions differ from --num_shards",
     "k8s/export-shards-job.yaml", "completions: 4", "completions: 3",
     r"export --num_shards=4, the Job has 3 completions", False),
    ("merge reads another shard directory", "k8s/export-merge-job.yaml",
     "--shard_dir=/models/shards/retrieval",
     "--shard_dir=/data/shards/retrieval",
     r"--merge_shards reads --shard_dir=/data/shards/retrieval", False),
    ("merge with other weights than the shards", "k8s/export-merge-job.yaml",
     "--weights=/runs/clip-ft/model.safetensors",
     "--weights=/runs/clip-ft/checkpoint-best.safetensors",
     r"merges with --weights=/runs/clip-ft/checkpoint-best", False),
    # (description, file under deploy/, old, new, expected error regex,
    #  run yamllint[, file, old, new: a further edit, ...])
    ("unknown flag in the server flag file", "k8s/server-configmap.yaml",
     "--cache_size=10000", "--cache_sizes=10000",
     r"retrieval_server has no flag --cache_sizes", False),
    ("unknown flag in a commented-out flag file line",
     "k8s/server-configmap.yaml", "# --tls_key=", "# --tls_keyfile=",
     r"has no flag --tls_keyfile", False),
    ("unknown train flag in the PyTorchJob", "k8s/train-pytorchjob.yaml",
     "--warmup_steps=500", "--warmup_step=500",
     r"PyTorchJob.*train has no flag --warmup_step\b", False),
    ("unknown launch flag in the Indexed Job", "k8s/train-indexed-job.yaml",
     "--nnodes=", "--num_nodes=", r"launch has no flag --num_nodes", False),
    ("dashes instead of underscores in the Slurm script",
     "slurm/train.sbatch", "--resize_mode=pad", "--resize-mode=pad",
     r"train has no flag --resize-mode", False),
    ("unknown flag in compose", "docker/compose.yaml", "--top_k=10",
     "--topk=10", r"batch_client has no flag --topk", False),
    ("non-boolean flag without a value", "docker/compose.yaml",
     "--top_k=10", "--top_k", r"--top_k needs a value", False),
    ("unknown flag in the Dockerfile CMD", "docker/Dockerfile",
     '"--http_port=8080"]', '"--http_ports=8080"]',
     r"Dockerfile CMD: retrieval_server has no flag --http_ports", False),
    ("liveness probe on the wrong port", "k8s/server-deployment.yaml",
     "          livenessProbe:\n            grpc:\n              port: 8500",
     "          livenessProbe:\n            grpc:\n              port: 8501",
     r"livenessProbe port 8501", False),
    ("server port changed only in the flag file",
     "k8s/server-configmap.yaml", "--port=8500", "--port=8600",
     r"no containerPort 8600", False),
    ("metrics containerPort differs", "k8s/server-deployment.yaml",
     "containerPort: 9090", "containerPort: 9091",
     r"no containerPort 9090", False),
    ("REST port changed only in the flag file", "k8s/server-configmap.yaml",
     "--http_port=8080", "--http_port=8081",
     r"no containerPort 8081 \(the server's --http_port\)", False),
    ("REST port picked at random in a pod", "k8s/server-configmap.yaml",
     "--http_port=8080", "--http_port=0", r"--http_port=0 picks a random port",
     False),
    ("http containerPort differs", "k8s/server-deployment.yaml",
     "containerPort: 8080", "containerPort: 8081",
     r"no containerPort 8080 \(the server's --http_port\)", False),
    ("Service http port differs from the pods'", "k8s/server-service.yaml",
     "      port: 8080\n", "      port: 8081\n",
     r"headless Service retrieval-server: clients dial pod IPs at port 8081, "
     r"the container listens on 8080", False),
    ("Service without the http port", "k8s/server-service.yaml",
     "    - name: http\n      port: 8080\n      targetPort: http\n"
     "      protocol: TCP\n      appProtocol: http\n", "",
     r"no Service port reaches the server's --http_port 8080", False),
    ("Service http port targets the metrics port", "k8s/server-service.yaml",
     "targetPort: http", "targetPort: metrics",
     r"no Service port reaches the server's --http_port 8080", False),
    ("gallery images outside the export's images", "k8s/server-configmap.yaml",
     "--gallery_images_dir=/data/track2/test/images",
     "--gallery_images_dir=/data/track2/val/images",
     r"retrieval_server --gallery_images_dir=/data/track2/val/images is not "
     r"under any volume mount", False),
    ("gallery mounted from another directory of the claim",
     "k8s/server-deployment.yaml", "subPath: track2/test/images",
     "subPath: track2/val/images",
     r"--gallery_images_dir=/data/track2/test/images is "
     r"retrieval-data:track2/val/images, the gallery export encoded is "
     r"retrieval-data:track2/test/images", False),
    ("gallery images on a writable mount", "k8s/server-deployment.yaml",
     "subPath: track2/test/images\n              readOnly: true\n",
     "subPath: track2/test/images\n",
     r"lies on a writable mount at /data/track2/test/images", False),
    ("no gallery flag and the manifest's path not mounted",
     "k8s/server-configmap.yaml",
     "    --gallery_images_dir=/data/track2/test/images\n", "",
     r"no --gallery_images_dir: the manifest's dataset "
     r"/data/track2/test/images \(export --images\) is not on a mounted "
     r"volume", False, "k8s/server-deployment.yaml",
     "mountPath: /data/track2/test/images", "mountPath: /gallery"),
    ("Dockerfile does not expose the REST port", "docker/Dockerfile",
     "EXPOSE 8500 9090 8080", "EXPOSE 8500 9090",
     r"Dockerfile: EXPOSE lacks the server's --http_port 8080", False),
    ("CUDA image on another REST port", "docker/Dockerfile.cuda",
     '"--http_port=8080"]', '"--http_port=8081"]',
     r"Dockerfile.cuda: EXPOSE lacks the server's --http_port 8081", False),
    ("compose does not publish the REST port", "docker/compose.yaml",
     '      - "127.0.0.1:8080:8080"\n', "",
     r"compose.yaml: service server: the server's --http_port 8080 is not a "
     r"published container port", False),
    ("compose gallery on another volume", "docker/compose.yaml",
     "      - data:/data:ro\n    healthcheck:",
     "      - results:/data:ro\n    healthcheck:",
     r"compose.yaml: service server: --gallery_images_dir=/data/synthetic/"
     r"test/images is results:synthetic/test/images, the gallery export "
     r"encoded is data:synthetic/test/images", False),
    ("compose gallery writable", "docker/compose.yaml",
     "      - data:/data:ro\n    healthcheck:",
     "      - data:/data\n    healthcheck:",
     r"compose.yaml: service server: --gallery_images_dir=.* lies on a "
     r"writable mount at /data", False),
    ("scrape annotation on another port", "k8s/server-deployment.yaml",
     'prometheus.io/port: "9090"', 'prometheus.io/port: "9191"',
     r"prometheus.io/port is '9191'", False),
    ("grace period too short", "k8s/server-deployment.yaml",
     "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 25",
     r"terminationGracePeriodSeconds 25 must exceed", False),
    ("server listens on loopback", "k8s/server-configmap.yaml",
     "--host=0.0.0.0", "--host=127.0.0.1", r"--host=127.0.0.1", False),
    ("models mounted elsewhere", "k8s/server-deployment.yaml",
     "            - name: models\n              mountPath: /models\n"
     "              readOnly: true\n            - name: flags",
     "            - name: models\n              mountPath: /model\n"
     "              readOnly: true\n            - name: flags",
     r"nothing mounted at /models", False),
    ("flag file not mounted", "k8s/server-deployment.yaml",
     "mountPath: /etc/retrieval\n", "mountPath: /etc/retrieval-flags\n",
     r"--flagfile=/etc/retrieval/server.flags is not in a mounted", False),
    ("flag file key renamed", "k8s/server-configmap.yaml",
     "  server.flags: |", "  retrieval.flags: |",
     r"has no key 'server.flags'", False),
    ("export writes another models dir", "k8s/export-job.yaml",
     "--models_dir=/models/retrieval", "--models_dir=/models/other",
     r"export --models_dir=/models/other", False),
    ("export output on a read-only mount", "k8s/export-job.yaml",
     "            - name: models\n              mountPath: /models\n",
     "            - name: models\n              mountPath: /models\n"
     "              readOnly: true\n",
     r"writes to read-only mount /models", False),
    ("Service targets a port the pods lack", "k8s/server-service.yaml",
     "targetPort: grpc", "targetPort: grpcs", r"targets 'grpcs'", False),
    ("HPA targets a missing Deployment", "k8s/server-hpa.yaml",
     "    name: retrieval-server\n  minReplicas",
     "    name: retrieval-servers\n  minReplicas",
     r"HPA targets Deployment retrieval-servers", False),
    ("GPU count and processes per node differ", "k8s/train-pytorchjob.yaml",
     '- name: GPUS_PER_NODE\n                  value: "8"',
     '- name: GPUS_PER_NODE\n                  value: "4"',
     r"launch starts 4 processes per node, the pod has 8", False),
    ("nodes and replicas differ", "k8s/train-pytorchjob.yaml",
     '- name: NNODES\n                  value: "2"',
     '- name: NNODES\n                  value: "3"',
     r"--nnodes resolves to 3, the PyTorchJob has 2", False),
    ("Indexed Job rendezvous on pod 1", "k8s/train-indexed-job.yaml",
     "value: clip-ft-indexed-0.clip-ft-indexed",
     "value: clip-ft-indexed-1.clip-ft-indexed",
     r"master_addr resolves to 'clip-ft-indexed-1", False),
    ("Slurm GPUs and processes differ", "slurm/train.sbatch",
     "#SBATCH --gpus-per-node=8", "#SBATCH --gpus-per-node=4",
     r"--nproc_per_node resolves to 8, #SBATCH --gpus-per-node=4", False),
    ("compose health check on another port", "docker/compose.yaml",
     '"--server=127.0.0.1:8500"', '"--server=127.0.0.1:8501"',
     r"compose.yaml: service server healthcheck: health check dials port "
     r"8501", False),
    ("compose stop grace period too short", "docker/compose.yaml",
     "stop_grace_period: 30s", "stop_grace_period: 15s",
     r"stop_grace_period 15s must exceed", False),
    ("Dockerfile misses a binary", "docker/Dockerfile",
     "    /out/bin/loadgen \\\n", "",
     r"Dockerfile: does not copy loadgen", False),
    ("Dockerfile builds without the release script", "docker/Dockerfile",
     "deploy/build_release.sh /out/bin",
     "bazel build //server:retrieval_server",
     r"Dockerfile: no RUN of deploy/build_release.sh", False),
    ("CUDA image built without --config=cuda", "docker/Dockerfile.cuda",
     "deploy/build_release.sh /out/bin --config=cuda",
     "deploy/build_release.sh /out/bin",
     r"Dockerfile.cuda: build_release.sh without --config=cuda", False),
    ("a release target the images do not copy", "build_release.sh",
     "  //clip:clip_embed\n", "  //clip:clip_embed\n  //client:extra\n",
     r"does not copy extra", False),
    ("launch starts another program", "k8s/train-indexed-job.yaml",
     "-- /opt/retrieval/bin/train", "-- /opt/retrieval/bin/trainer",
     r"launch does not start /opt/retrieval/bin/train", False),
    ("PyTorchJob runs a script the test cannot see into",
     "k8s/train-pytorchjob.yaml", "exec /opt/retrieval/bin/launch",
     "exec /opt/retrieval/launcher", r"PyTorchJob clip-ft Master container "
     r"pytorch: does not run /opt/retrieval/bin/launch", False),
    ("Slurm script starts another program", "slurm/train.sbatch",
     '-- "$RETRIEVAL_BIN/train"', '-- "$RETRIEVAL_BIN/train.sh"',
     r"train.sbatch: launch does not start train", False),
    ("a syntax directive (a frontend image from a registry)",
     "docker/Dockerfile.cuda", "# CUDA image of the retrieval system",
     "# syntax=docker/dockerfile:1\n# CUDA image of the retrieval system",
     r"Dockerfile.cuda: '# syntax=docker/dockerfile:1' needs a registry",
     False),
    ("CUDA runtime on another base", "docker/Dockerfile.cuda",
     "FROM debian:${DEBIAN_RELEASE}-slim AS runtime",
     "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04 AS runtime",
     r"starts from nvidia/cuda:12.4.1-runtime-ubuntu22.04, not one of the "
     r"bases", False),
    ("base release differs from the one build_image.sh makes",
     "docker/build_image.sh", "\nRELEASE=bookworm", "\nRELEASE=trixie",
     r"Dockerfile: stage build starts from debian:bookworm, not one of the "
     r"bases build_image.sh makes", False),
    ("CUDA image runs as another user", "docker/Dockerfile.cuda",
     "useradd --system --uid 10001", "useradd --system --uid 10002",
     r"Dockerfile.cuda: runtime stage lacks RUN 'useradd --system --uid "
     r"10001", False),
    ("CUDA image in another working directory", "docker/Dockerfile.cuda",
     "WORKDIR /tmp", "WORKDIR /work", r"runtime stage has WORKDIR '/work'",
     False),
    ("Bazel cache mount misses the disk cache", "docker/Dockerfile",
     "target=/root/.cache \\", "target=/root/.cache/bazel \\",
     r"the cache mount's target is /root/.cache/bazel", False),
    ("CPU and CUDA builds share a Bazel cache", "docker/Dockerfile.cuda",
     "id=retrieval-bazel-cuda", "id=retrieval-bazel-cpu",
     r"need their own cache mount id", False),
    ("FAISS prefix other than where FAISS is installed",
     "docker/Dockerfile.cuda", "    FAISS_CUDA_PREFIX=/opt/faiss\n",
     "    FAISS_CUDA_PREFIX=/opt/faiss-gpu\n",
     r"nothing checks /opt/faiss-gpu/lib/libfaiss.so", False),
    ("CUDA_HOME not set for --config=cuda", "docker/Dockerfile.cuda",
     "ENV CUDA_HOME=/usr/local/cuda\n", "", r"does not set CUDA_HOME", False),
    ("YAML error", "k8s/server-pdb.yaml", "  maxUnavailable: 1\n",
     "  maxUnavailable: 1\n   bad: indent\n", r"yamllint: .*\[error\]",
     True),
]


def run_mutations(root, helps):
    """Returns failures: mutations that were not reported."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="deploy_mutations_") as tmp:
        for desc, rel, old, new, expect, lint, *more in MUTATIONS:
            copy = os.path.join(tmp, "root")
            if os.path.exists(copy):
                shutil.rmtree(copy)
            shutil.copytree(os.path.join(root, "deploy"),
                            os.path.join(copy, "deploy"))
            edits = [(rel, old, new)] + [tuple(more[i:i + 3])
                                          for i in range(0, len(more), 3)]
            missing = None
            for erel, eold, enew in edits:
                path = os.path.join(copy, "deploy", erel)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                if text.count(eold) < 1:
                    missing = (erel, eold)
                    break
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text.replace(eold, enew, 1))
            if missing:
                failures.append(f"mutation {desc!r}: {missing[1]!r} not found "
                                f"in deploy/{missing[0]}")
                continue
            errors = Checker(copy, helps).run(lint=lint)
            if not any(re.search(expect, e) for e in errors):
                failures.append(
                    f"mutation {desc!r} (deploy/{rel}) was not reported as "
                    f"/{expect}/; errors were:\n    " +
                    "\n    ".join(errors or ["(none)"]))
    return failures


# ---------------------------------------------------------------------------
# Fake binaries for --self_test: shell scripts printing --helpfull.

FAKE_FLAGS = {
    "retrieval_server": {
        "models_dir": '""', "host": '"127.0.0.1"', "port": "8500",
        "metrics_port": "9090", "max_batch_size": "64",
        "batch_timeout_us": "2000", "max_queue": "1024", "threads": "0",
        "reload_interval_s": "30", "cache_size": "10000", "tls_cert": '""',
        "tls_key": '""', "auth_token_file": '""', "grace_period_s": "20",
        "http_port": "-1", "http_threads": "16", "http_timeout_s": "30",
        "gallery_images_dir": '""', "model_versions": '"latest"',
        "default_version": "0", "image_queries": "true",
    },
    "batch_client": {
        "server": '"127.0.0.1:8500"', "queries": '""', "output": '""',
        "top_k": "10", "concurrency": "8", "chunk_size": "32",
        "deadline_ms": "5000", "retries": "3", "tls_ca": '""',
        "auth_token_file": '""', "resume": "false",
        "allow_failures": "0",
    },
    "query": {
        "server": '"127.0.0.1:8500"', "text": '""', "top_k": "10",
        "category": '""', "deadline_ms": "5000", "tls_ca": '""',
        "auth_token_file": '""', "images_dir": '""', "sheet": '""',
        "health": "false",
    },
    "loadgen": {"server": '"127.0.0.1:8500"', "qps": "100"},
    "evaluate": {
        "predictions": '""', "ground_truth": '""', "labels": '""',
        "relevance": '"exact"', "label_extra_fields": "false",
        "write_ground_truth": '""',
    },
    "train": {
        "data_dir": '""', "train_labels": '""', "train_images": '""',
        "val_labels": '""', "val_images": '""', "output_dir": '""',
        "init_weights": '""', "arch": '"small"', "vocab": '""',
        "train_vocab_merges": "0", "resize_mode": '"pad"', "augment": "true",
        "crop_scale_min": "0.8", "epochs": "5", "batch_size": "64",
        "grad_accum": "1", "lr": "0.0005", "min_lr": "0",
        "weight_decay": "0.1", "warmup_steps": "50", "clip_grad_norm": "1",
        "freeze_vision_blocks": "0", "freeze_text_blocks": "0",
        "seed": "42", "threads": "0", "loader_workers": "1",
        "resume": "false", "checkpoint_every_steps": "0", "max_steps": "0",
        "device": '"cpu"', "skip_bad_images": "false",
    },
    "export": {
        "weights": '""', "vocab": '""', "images": '""', "labels": '""',
        "models_dir": '""', "model_name": '"retrieval"', "index": '"Flat"',
        "batch_size": "64", "threads": "0", "loader_workers": "1",
        "resize_mode": '"pad"', "nprobe": "16", "recall_queries": "0",
        "device": '"cpu"',
    },
    "datagen": {
        "output_dir": '""', "seed": "1", "train_size": "2000",
        "val_size": "500", "test_size": "1000", "num_queries": "200",
        "threads": "0", "overwrite": "false",
    },
    "launch": {
        "nproc_per_node": "1", "nnodes": "1", "node_rank": "0",
        "master_addr": '"127.0.0.1"', "master_port": "29500",
        "kill_timeout_s": "10",
    },
    "clip_embed": {
        "weights": '""', "vocab": '""', "texts": '""', "images": '""',
        "output": '""', "resize_mode": '"pad"', "batch_size": "64",
        "threads": "0",
    },
}

ABSL_BUILTIN_HELP = """
  Flags from ./absl/flags/parse.cc:
    --flagfile (comma-separated list of files to load flags from); default: ;
    --fromenv (comma-separated list of flags to set from the environment [use
      'export FLAGS_flag1=value']); default: ;
    --tryfromenv (comma-separated list of flags to try to set from the
      environment if present); default: ;
    --undefok (comma-separated list of flag names that it is okay to specify on
      the command line even if the program does not define a flag with that
      name); default: ;
"""


def write_fake_binaries(directory):
    paths = []
    for name, flags in FAKE_FLAGS.items():
        lines = [f"{name}: fake for the deploy manifest test", "",
                 f"  Flags from {name}_main.cc:"]
        for flag, default in sorted(flags.items()):
            lines.append(f"    --{flag} (Fake help text that is long enough "
                         f"to wrap onto a second\n      line.); default: "
                         f"{default};")
        text = "\n".join(lines) + "\n" + ABSL_BUILTIN_HELP
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\ncat <<'HELP'\n" + text + "HELP\nexit 1\n")
        os.chmod(path, 0o755)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True,
                    help="repository root (holds deploy/)")
    ap.add_argument("--self_test", action="store_true",
                    help="use fake binaries instead of real ones")
    ap.add_argument("binaries", nargs="*", help="paths of the binaries")
    args = ap.parse_args()

    if not args.self_test and not args.binaries:
        ap.error("give the binaries, or --self_test")
    with tempfile.TemporaryDirectory(prefix="deploy_fake_bin_") as fake_dir:
        binaries = args.binaries
        if args.self_test:
            binaries = write_fake_binaries(fake_dir)
        helps, errors = load_helps(binaries)
        if errors:
            print("\n".join(errors), file=sys.stderr)
            return 1

    checker = Checker(args.root, helps)
    errors = checker.run()
    given = set(helps)
    if not args.self_test and checker.binaries and given != checker.binaries:
        errors.append(
            "the test's binaries "
            f"{sorted(given)} differ from deploy/build_release.sh TARGETS "
            f"{sorted(checker.binaries)} (update tests/BUILD)")
    if errors:
        print(f"FAIL: {len(errors)} problem(s) in deploy/:", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print(f"deploy/ is consistent with {len(helps)} binaries "
          f"({'fake' if args.self_test else 'real'})")

    failures = run_mutations(args.root, helps)
    if failures:
        print(f"FAIL: {len(failures)} of {len(MUTATIONS)} mutations went "
              f"unnoticed:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    print(f"all {len(MUTATIONS)} mutations were reported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
