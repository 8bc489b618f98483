"""Thread and instruction-set controls of the fast module: the Python API, the environment
variables (in subprocesses, since they are read at import), threadpoolctl, and that results are
bit-identical whatever the thread count."""
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import fast_module

csoftmax = fast_module()


def _run(code, **env):
    full = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full,
                         check=True)
    return out.stdout.strip(), out.stderr


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                     (True, TypeError), ("2", TypeError)])
def test_set_num_threads_rejects(bad, exc):
    with pytest.raises(exc):
        csoftmax.set_num_threads(bad)


def test_num_threads_context_restores():
    before = csoftmax.get_num_threads()
    with csoftmax.num_threads(1):
        assert csoftmax.get_num_threads() == 1
    assert csoftmax.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with csoftmax.num_threads(1):
            raise RuntimeError("boom")
    assert csoftmax.get_num_threads() == before


@pytest.mark.skipif(not csoftmax.openmp_available(), reason="built without OpenMP")
def test_env_thread_count_order():
    code = "import csoftmax; print(csoftmax.get_num_threads())"
    assert _run(code, CSOFTMAX_NUM_THREADS="3", OMP_NUM_THREADS="2")[0] == "3"
    env = {k: v for k, v in os.environ.items() if k != "CSOFTMAX_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(env, OMP_NUM_THREADS="2"), check=True)
    assert out.stdout.strip() == "2"
    for bad in ("zero", "0", "1000000000"):
        stdout, stderr = _run(code, CSOFTMAX_NUM_THREADS=bad, OMP_NUM_THREADS="1")
        assert stdout == "1" and "CSOFTMAX_NUM_THREADS" in stderr and "4096" in stderr


def test_isa_env_forces_lower_path():
    for name in csoftmax.available_isas():
        assert _run("import csoftmax; print(csoftmax.get_isa())", CSOFTMAX_ISA=name)[0] == name
    stdout, stderr = _run("import csoftmax; print(csoftmax.get_isa())", CSOFTMAX_ISA="sse9")
    assert stdout == csoftmax.available_isas()[0]
    assert "CSOFTMAX_ISA" in stderr


def test_set_isa_rejects_unknown():
    with pytest.raises(ValueError):
        csoftmax._set_isa("sse9")


def _large_cases():
    rng = np.random.default_rng(7)
    x32 = (rng.standard_normal((512, 1000)) * 4).astype(np.float32)
    x64 = rng.standard_normal((300, 700)) * 4
    labels = rng.integers(0, 1000, 512)
    return x32, x64, labels


@pytest.mark.skipif(not csoftmax.openmp_available(), reason="built without OpenMP")
def test_results_bit_identical_across_thread_counts():
    x32, x64, labels = _large_cases()

    def compute():
        res = []
        for x in (x32, x64, np.asfortranarray(x32)):
            for axis in (-1, 0):
                res += [csoftmax.softmax(x, axis=axis), csoftmax.log_softmax(x, axis=axis),
                        csoftmax.logsumexp(x, axis=axis)]
        loss, grad = csoftmax.cross_entropy(x32, labels, return_grad=True, label_smoothing=0.1)
        y = csoftmax.softmax(x32)
        res += [np.asarray(loss), grad, csoftmax.softmax_backward(x32, y),
                csoftmax.log_softmax_backward(x32, np.log(y))]
        return res

    _assert_same_on_1_and_2_threads(compute)


def _assert_same_on_1_and_2_threads(compute):
    with csoftmax.num_threads(1):
        serial = compute()
    with csoftmax.num_threads(2):
        parallel = compute()
    assert len(serial) == len(parallel)
    for a, b in zip(serial, parallel):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not csoftmax.openmp_available(), reason="built without OpenMP")
def test_long_rows_bit_identical_across_thread_counts():
    # rows over 128 KB (read once, in blocks) and an axis-0 block split over columns
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((8, 70000)) * 4).astype(np.float32)
    labels = rng.integers(0, 70000, 8)
    cols = rng.standard_normal((600, 2, 300))

    def compute():
        res = [f(x) for f in (csoftmax.softmax, csoftmax.log_softmax, csoftmax.logsumexp)]
        res += [f(cols, axis=0) for f in (csoftmax.softmax, csoftmax.log_softmax)]
        res += list(csoftmax.cross_entropy(x, labels, reduction="none", return_grad=True))
        return res

    _assert_same_on_1_and_2_threads(compute)


def test_threadpoolctl_limits_csoftmax():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    infos = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "csoftmax"]
    assert len(infos) == 1 and infos[0]["num_threads"] == csoftmax.get_num_threads()
    before = csoftmax.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="csoftmax"):
        assert csoftmax.get_num_threads() == 1
    assert csoftmax.get_num_threads() == before
    if csoftmax.openmp_available():   # a limit past csoftmax's maximum is clamped to it
        with threadpoolctl.threadpool_limits(limits=10**9, user_api="csoftmax"):
            assert csoftmax.get_num_threads() == 4096
        assert csoftmax.get_num_threads() == before
