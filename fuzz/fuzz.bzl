"""fuzz_target: a libFuzzer target that is also a corpus regression test."""

def fuzz_target(name, srcs, deps):
    """Declares <name>_fuzzer and <name>_fuzzer_test.

    <name>_fuzzer is a libFuzzer binary under --config=fuzz (the
    :fuzzing setting) and otherwise a replay binary that runs
    LLVMFuzzerTestOneInput once per file named on its command line (files or
    directories). <name>_fuzzer_test replays corpus/<name>/.

    Args:
      name: short name; also the name of the corpus directory.
      srcs: the source defining LLVMFuzzerTestOneInput.
      deps: the code under test.
    """
    lib = name + "_fuzzer_lib"
    native.cc_library(
        name = lib,
        srcs = srcs,
        deps = deps + [":fuzz_check"],
        alwayslink = 1,
        testonly = 1,
    )
    native.cc_binary(
        name = name + "_fuzzer",
        deps = [lib] + select({
            ":fuzzing": [],
            "//conditions:default": [":replay_main"],
        }),
        linkopts = select({
            ":fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        testonly = 1,
    )
    native.cc_test(
        name = name + "_fuzzer_test",
        size = "small",
        deps = [lib, ":replay_main"],
        data = native.glob(["corpus/%s/**" % name]),
        args = ["fuzz/corpus/" + name],
    )
