"""Build of csoftmax's extension: the Cython layer plus the C kernels compiled once per ISA.

src/dispatch/csm_kernels.c is compiled three times on x86-64 (AVX-512, AVX2+FMA, baseline SSE2)
with different flags and symbol suffixes, and src/dispatch/csm_dispatch.c picks one at run time,
so a single build runs on any x86-64 CPU and uses the best instruction set each has (no
-march=native).
On aarch64 one build is compiled, "neon" (16-byte vectors, which gcc and clang map to NEON);
elsewhere only the portable baseline build. OpenMP is used when the compiler has it.
Both are decided by probes built with the user's CFLAGS/LDFLAGS (see _probe); a failed probe
prints a warning with the compiler's error, or fails the build under CSOFTMAX_REQUIRE_SIMD=1.
"""
import glob
import os
import platform
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError

# -fno-trapping-math lets gcc vectorize selects; it changes no result (IEEE inf/NaN semantics are
# kept, unlike -ffast-math). -ffp-contract=fast allows FMA where the ISA has it.
# -falign-functions=64: a kernel's loops keep their cache-line placement when unrelated code
# moves it (identical code 8-11% slower on float32 short rows, Zen 5, after the house reordering).
KERNEL_FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=fast",
                "-falign-functions=64"]
# The instruction sets compiled on x86-64, best first; the last runs on any CPU of the family.
# Each -m<feature> flag (without "=") is a CPU feature the build needs: csm_dispatch.c checks
# exactly those at run time (isa_list_macro), so a CPU that lacks one never runs that build.
X86_ISAS = [
    ("avx512", 64, ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma",
                    "-mbmi2", "-mprefer-vector-width=512"]),
    ("avx2", 32, ["-mavx2", "-mfma", "-mbmi2"]),
    ("baseline", 16, []),
]
# The folders of src/, each an include directory of every C compilation (the kernels include their
# headers by file name; tools/kernel_flags.py prints these as -I flags for builds outside setup.py).
SRC_DIRS = ["src", "src/core", "src/dispatch", "src/softmax", "src/decode", "src/losses",
            "src/stats", "src/output_cache"]
C_HEADERS = glob.glob(os.path.join("src", "**", "*.h"), recursive=True)   # what the builds depend on
IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
# aarch64: NEON (Advanced SIMD) is part of the base architecture, so one build of 16-byte vectors,
# named for it, runs on every CPU (the C test program, tests/c/, checks it under qemu-aarch64).
ARM64_ISAS = [("neon", 16, [])]
IS_ARM64 = platform.machine().lower() in ("aarch64", "arm64")


def isa_list_macro(isas):
    """CSM_ISA_LIST for csm_dispatch.c: CSM_ISA(name, needs) per build, best first, `needs` the
    run-time check of the CPU features its flags compile in (tools/kernel_flags.py reads this
    function too, for builds outside setuptools)."""
    def needs(flags):
        features = [f[2:] for f in flags if f.startswith("-m") and "=" not in f]
        return " && ".join(f"CSM_CPU({f})" for f in features) or "1"
    return "".join(f"CSM_ISA({name}, {needs(flags)})" for name, _, flags in isas)


def _probe(compiler, flags, code):
    """Compile and link `code` as the extension is built; return None, or why it failed.

    compile() runs compiler_so, which carries CFLAGS and CPPFLAGS; the link goes through
    link_shared_object, i.e. linker_so (LDSHARED plus LDFLAGS, CFLAGS and CPPFLAGS), as the
    extension's own link does. (link_executable runs plain CC without LDFLAGS, so objects built
    with -fsanitize, -flto or --coverage in CFLAGS failed to link and every probe failed.) The
    compiler's messages are captured from file descriptor 2 for the warning."""
    with tempfile.TemporaryDirectory() as tmp:
        src, log = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe.log")
        with open(src, "w") as f:
            f.write(code)
        sys.stderr.flush()
        saved_stderr = os.dup(2)
        try:
            with open(log, "w") as f:
                os.dup2(f.fileno(), 2)
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=list(flags))
            compiler.link_shared_object(objs, os.path.join(tmp, "probe.so"),
                                        extra_postargs=list(flags))
            return None
        except Exception as exc:
            sys.stderr.flush()
            with open(log) as f:
                return f"{exc}\n{f.read().strip()}"
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)


def _warn(probe, flags, error, consequence):
    bar = "*" * 78
    print(f"{bar}\ncsoftmax WARNING: the {probe} probe failed, so {consequence}.\n"
          f"  probe flags: {' '.join(flags)}\n  error:\n    "
          + "\n    ".join(error.splitlines()) + f"\n{bar}", file=sys.stderr)


# Emits EVEX and FMA code, so the assembler (at the link under -flto) is tested too.
SIMD_PROBE = """#include <immintrin.h>
void csm_probe(float *p)
{ _mm512_storeu_ps(p, _mm512_fmadd_ps(_mm512_loadu_ps(p), _mm512_loadu_ps(p), _mm512_loadu_ps(p))); }
"""
OPENMP_PROBE = "#include <omp.h>\nint csm_probe(void) { return omp_get_max_threads(); }\n"


class BuildExt(build_ext):
    def build_extension(self, ext):
        cc = self.compiler
        if cc.compiler_type == "msvc":
            # Otherwise cl.exe stops at the kernels' first __attribute__ with a syntax error that
            # does not say why (README: "Installing and building from source").
            raise CompileError(
                "csoftmax cannot be built with Microsoft Visual C++ (MSVC): its C kernels use the "
                "GCC/Clang vector extensions (__attribute__((vector_size))) and C11 aligned_alloc, "
                "which MSVC and its C runtime lack. Build from source with GCC or Clang on Linux "
                "or macOS; Windows is not supported yet (there are no Windows wheels either).")
        gnu_like = cc.compiler_type == "unix"
        use_x86 = False
        if IS_X86 and gnu_like:
            simd_flags = X86_ISAS[0][2]   # AVX-512's flags include AVX2's
            error = _probe(cc, simd_flags, SIMD_PROBE)
            use_x86 = error is None
            if error and os.environ.get("CSOFTMAX_REQUIRE_SIMD") == "1":
                raise CompileError(f"csoftmax: the AVX-512/AVX2 probe failed and "
                                   f"CSOFTMAX_REQUIRE_SIMD=1 ({' '.join(simd_flags)}):\n{error}")
            if error:
                _warn("AVX-512/AVX2", simd_flags, error,
                      "only the baseline (SSE2) kernels are built, 2-3x slower on CPUs with AVX2 "
                      "or AVX-512 (CSOFTMAX_REQUIRE_SIMD=1 makes this an error)")
        isas = X86_ISAS if use_x86 else ARM64_ISAS if IS_ARM64 and gnu_like else [("baseline", 16, [])]
        objects = []
        for name, vec_bytes, flags in isas:
            out_dir = os.path.join(self.build_temp, "isa_" + name)
            objects += cc.compile(
                [os.path.join("src", "dispatch", "csm_kernels.c")], output_dir=out_dir,
                macros=[("CSM_ISA", name), ("CSM_VEC_BYTES", str(vec_bytes))],
                include_dirs=SRC_DIRS, depends=C_HEADERS,
                extra_postargs=(KERNEL_FLAGS + flags) if gnu_like else [])
        ext.extra_objects = objects + list(ext.extra_objects or [])
        # the one list of builds: csm_dispatch.c declares, names and checks its tables from it
        ext.define_macros.append(("CSM_ISA_LIST", isa_list_macro(isas)))
        omp = False
        if gnu_like and os.environ.get("CSOFTMAX_OPENMP", "1") != "0":
            error = _probe(cc, ["-fopenmp"], OPENMP_PROBE)
            omp = error is None
            if error:
                _warn("OpenMP", ["-fopenmp"], error, "every call runs on one thread "
                      "(CSOFTMAX_OPENMP=0 builds without OpenMP and skips this probe)")
        if omp:
            ext.extra_compile_args.append("-fopenmp")
            ext.extra_link_args.append("-fopenmp")
        print(f"csoftmax: kernels for {', '.join(n for n, _, _ in isas)}; "
              f"OpenMP {'on' if omp else 'off'}", file=sys.stderr)
        super().build_extension(ext)


ext = Extension(
    "csoftmax._core",
    sources=["csoftmax/_core.pyx", "src/dispatch/csm_dispatch.c",
             "src/dispatch/csm_planner.c", "src/output_cache/csm_pool.c"],
    include_dirs=SRC_DIRS + [np.get_include()],
    depends=C_HEADERS + glob.glob(os.path.join("csoftmax", "*.pxi")),
    # NPY_TARGET_VERSION: the output cache calls PyDataMem_SetHandler (NumPy 1.22's API), which
    # NumPy 2.0-2.2's headers hide by default (they target 1.19): the module then failed to import.
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                   ("NPY_TARGET_VERSION", "NPY_1_22_API_VERSION")],
    extra_compile_args=["-O2"] if os.name != "nt" else [],
)

setup(
    ext_modules=cythonize([ext], language_level=3,
                          compiler_directives={"boundscheck": False, "wraparound": False,
                                               "embedsignature": True}),
    cmdclass={"build_ext": BuildExt},
)
