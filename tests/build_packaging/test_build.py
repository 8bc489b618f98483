"""The build has every kernel it should. A build that silently lost its AVX-512/AVX2 kernels or
OpenMP (as when a compiler probe failed under the user's CFLAGS/LDFLAGS) still gives right
answers, only slowly, so no other test sees it: with CSOFTMAX_REQUIRE_SIMD=1 (set by .ci/run for
both of its builds, the sanitizer one included) an x86-64 build must run every instruction set
this CPU has, and OpenMP."""
import ast
import os
import pathlib
import platform
import subprocess
import sys

import pytest

REQUIRED = os.environ.get("CSOFTMAX_REQUIRE_SIMD") == "1"
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
SETUP_PY = pathlib.Path(__file__).resolve().parents[2] / "setup.py"


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
    needs = fast._core._isa_cpu_features()
    assert list(needs) == ["avx512", "avx2", "baseline"]
    want = [isa for isa, features in needs.items() if set(features) <= flags]
    assert list(fast.available_isas()) == want
    assert fast.openmp_available()


def _setup_isas():
    """setup.py's X86_ISAS: (name, vector bytes, flags) per build."""
    for node in ast.parse(SETUP_PY.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "X86_ISAS":
            return ast.literal_eval(node.value)
    raise AssertionError("no X86_ISAS in setup.py")


@pytest.mark.skipif(not X86_64, reason="the x86-64 builds")
def test_runtime_check_requires_every_feature_a_build_is_compiled_with(fast):
    """A build compiled with -mbmi2 whose run-time check skipped BMI2 ran into SIGILL on a VM
    that shows AVX2 but hides BMI2: the check must name every -m<feature> flag of the build."""
    if not SETUP_PY.exists():
        pytest.skip("setup.py not beside tests/ (the installed-wheel run)")
    needs = fast._core._isa_cpu_features()
    if list(needs) == ["baseline"]:
        pytest.skip("built without the AVX-512/AVX2 kernels")
    for name, _, flags in _setup_isas():
        features = [f[2:] for f in flags if f.startswith("-m") and "=" not in f]
        assert sorted(needs[name]) == sorted(features), name
    assert "bmi2" in needs["avx2"] and "bmi2" in needs["avx512"]


@pytest.mark.skipif(not X86_64, reason="the x86-64 builds")
@pytest.mark.parametrize("hidden,want", [("bmi2", "baseline"), ("fma", "baseline"),
                                         ("avx512bw", "avx2"), ("avx512dq,other", "avx2"),
                                         ("bmi", None), ("", None)])
def test_cpu_without_a_feature_gets_a_build_it_runs(fast, hidden, want):
    """As on a CPU (or VM) that lacks `hidden`: no build that needs it is offered or chosen."""
    best = fast.available_isas()[0]
    if want is not None and fast.available_isas().index(want) < fast.available_isas().index(best):
        pytest.skip("this CPU lacks that build anyway")
    code = ("import csoftmax, numpy as np; print(','.join(csoftmax.available_isas()), "
            "csoftmax.get_isa(), float(csoftmax.softmax(np.zeros(2))[0]))")
    env = dict(os.environ, CSOFTMAX_HIDE_CPU_FEATURES=hidden)
    env.pop("CSOFTMAX_ISA", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    isas = fast.available_isas()
    if want is None:   # a feature no build needs (bmi: only bmi2 is compiled in), or nothing
        assert out[:2] == [",".join(isas), best]
    else:
        assert out[0] == ",".join(isas[isas.index(want):]) and out[1] == want
    assert out[2] == "0.5"
