"""Build of csoftmax's extension: the Cython layer plus the C kernels compiled once per ISA.

src/csm_kernels.c is compiled three times on x86-64 (AVX-512, AVX2+FMA, baseline SSE2) with
different flags and symbol suffixes, and src/csm_dispatch.c picks one at run time, so a single
build runs on any x86-64 CPU and uses the best instruction set each has (no -march=native).
Elsewhere only the portable baseline build is compiled. OpenMP is used when the compiler has it.
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

# -fno-trapping-math lets gcc vectorize selects; it changes no result (IEEE inf/NaN semantics are
# kept, unlike -ffast-math). -ffp-contract=fast allows FMA where the ISA has it.
KERNEL_FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=fast"]
X86_ISAS = [
    ("avx512", 64, ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma",
                    "-mbmi2", "-mprefer-vector-width=512"]),
    ("avx2", 32, ["-mavx2", "-mfma", "-mbmi2"]),
    ("baseline", 16, []),
]
IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def _compiler_accepts(compiler, flags, code="int main(void){return 0;}\n", libs=()):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=list(flags))
            compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=list(flags),
                                     libraries=list(libs))
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def build_extension(self, ext):
        cc = self.compiler
        gnu_like = cc.compiler_type == "unix"
        use_x86 = IS_X86 and gnu_like and _compiler_accepts(cc, X86_ISAS[0][2])
        isas = X86_ISAS if use_x86 else [("baseline", 16, [])]
        objects = []
        for name, vec_bytes, flags in isas:
            out_dir = os.path.join(self.build_temp, "isa_" + name)
            objects += cc.compile(
                [os.path.join("src", "csm_kernels.c")], output_dir=out_dir,
                macros=[("CSM_ISA", name), ("CSM_VEC_BYTES", str(vec_bytes))],
                include_dirs=["src"], depends=glob.glob(os.path.join("src", "*.h")),
                extra_postargs=(KERNEL_FLAGS + flags) if gnu_like else [])
        ext.extra_objects = objects + list(ext.extra_objects or [])
        if use_x86:
            ext.define_macros.append(("CSM_HAVE_X86_BUILDS", "1"))
        omp = os.environ.get("CSOFTMAX_OPENMP", "1") != "0" and gnu_like and _compiler_accepts(
            cc, ["-fopenmp"], "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        if omp:
            ext.extra_compile_args.append("-fopenmp")
            ext.extra_link_args.append("-fopenmp")
        print(f"csoftmax: kernels for {', '.join(n for n, _, _ in isas)}; "
              f"OpenMP {'on' if omp else 'off'}", file=sys.stderr)
        super().build_extension(ext)


ext = Extension(
    "csoftmax._core",
    sources=["csoftmax/_core.pyx", "src/csm_dispatch.c", "src/csm_pool.c"],
    include_dirs=["src", np.get_include()],
    depends=glob.glob(os.path.join("src", "*.h")) + glob.glob(os.path.join("csoftmax", "*.pxi")),
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=["-O2"] if os.name != "nt" else [],
)

setup(
    ext_modules=cythonize([ext], language_level=3,
                          compiler_directives={"boundscheck": False, "wraparound": False,
                                               "embedsignature": True}),
    cmdclass={"build_ext": BuildExt},
)
