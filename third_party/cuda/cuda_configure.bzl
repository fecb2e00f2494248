"""Repository rule for CUDA builds of LibTorch and FAISS (--config=cuda).

Debian 12 packages only CPU builds. A GPU machine installs a CUDA LibTorch
(the C++ distribution, cxx11 ABI) and a FAISS built with FAISS_ENABLE_GPU
under prefixes and names them in the environment:

    LIBTORCH_CUDA_PREFIX=/opt/libtorch      # holds include/ and lib/
    FAISS_CUDA_PREFIX=/opt/faiss            # holds include/faiss and lib/
    CUDA_HOME=/usr/local/cuda               # holds lib64/libcudart.so

The rule links those directories into @cuda_prefix and defines :torch and
:faiss there. Without the variables it defines targets that fail with a
message saying what to set, so CPU builds never touch them.
"""

_ENV = ["LIBTORCH_CUDA_PREFIX", "FAISS_CUDA_PREFIX", "CUDA_HOME"]

_MISSING = """
genrule(
    name = "missing",
    outs = ["missing.h"],
    cmd = "echo '--config=cuda needs {var} to name an installed prefix (third_party/cuda/README.md)' >&2; exit 1",
)

cc_library(
    name = "{name}",
    hdrs = [":missing"],
    visibility = ["//visibility:public"],
)
"""

def _impl(ctx):
    torch = ctx.os.environ.get("LIBTORCH_CUDA_PREFIX", "")
    faiss = ctx.os.environ.get("FAISS_CUDA_PREFIX", "")
    cuda = ctx.os.environ.get("CUDA_HOME", "/usr/local/cuda")
    build = ['package(default_visibility = ["//visibility:public"])']
    if torch and faiss:
        ctx.symlink(torch + "/include", "torch_include")
        ctx.symlink(faiss + "/include", "faiss_include")
        build.append("""
cc_library(
    name = "torch",
    hdrs = glob(["torch_include/**/*.h"]),
    includes = ["torch_include", "torch_include/torch/csrc/api/include"],
    defines = ["_GLIBCXX_USE_CXX11_ABI=1", "RETRIEVAL_WITH_CUDA"],
    linkopts = [
        "-L{torch}/lib", "-Wl,-rpath,{torch}/lib",
        "-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed",
        "-ltorch", "-ltorch_cpu", "-lc10",
        "-L{cuda}/lib64", "-Wl,-rpath,{cuda}/lib64", "-lcudart",
    ],
)

cc_library(
    name = "faiss",
    hdrs = glob(["faiss_include/**/*.h"]),
    includes = ["faiss_include"],
    defines = ["RETRIEVAL_WITH_FAISS_GPU"],
    linkopts = [
        "-L{faiss}/lib", "-Wl,-rpath,{faiss}/lib", "-lfaiss",
        "-fopenmp", "-llapack", "-lblas",
        "-L{cuda}/lib64", "-lcublas", "-lcudart",
    ],
)
""".format(torch = torch, faiss = faiss, cuda = cuda))
    else:
        build.append(_MISSING.format(name = "torch", var = "LIBTORCH_CUDA_PREFIX"))
        build.append(_MISSING.format(name = "faiss", var = "FAISS_CUDA_PREFIX").replace(
            'name = "missing"',
            'name = "missing_faiss"',
        ).replace('outs = ["missing.h"]', 'outs = ["missing_faiss.h"]').replace(
            'hdrs = [":missing"]',
            'hdrs = [":missing_faiss"]',
        ))
    ctx.file("BUILD", "\n".join(build))
    ctx.file("WORKSPACE", 'workspace(name = "cuda_prefix")\n')

cuda_prefix_repository = repository_rule(
    implementation = _impl,
    environ = _ENV,
    local = True,
)
