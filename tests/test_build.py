"""The build has every kernel it should. A build that silently lost its AVX-512/AVX2 kernels or
OpenMP (as when a compiler probe failed under the user's CFLAGS/LDFLAGS) still gives right
answers, only slowly, so no other test sees it: with CSOFTMAX_REQUIRE_SIMD=1 (set by .ci/run for
both of its builds, the sanitizer one included) an x86-64 build must run every instruction set
this CPU has, and OpenMP."""
import os
import platform

import pytest

REQUIRED = os.environ.get("CSOFTMAX_REQUIRE_SIMD") == "1"
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
AVX512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma"}


def _cpu_flags():
    """The CPU features the Linux kernel reports (and lets programs use)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


@pytest.mark.skipif(not (REQUIRED and X86_64), reason="CSOFTMAX_REQUIRE_SIMD=1 on x86-64 only")
def test_every_instruction_set_of_this_cpu_is_built(fast):
    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo to tell what this CPU has")
    want = ["baseline"]
    if {"avx2", "fma"} <= flags:
        want.insert(0, "avx2")
    if AVX512 <= flags:
        want.insert(0, "avx512")
    assert list(fast.available_isas()) == want
    assert fast.openmp_available()
