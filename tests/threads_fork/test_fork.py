"""A child forked after multi-threaded calls works (libgomp cannot start threads there, so it
runs single-threaded), and a child forked before any keeps its threads.

Each scenario runs in its own interpreter, in its own session, with a time limit: a hang (the
old behaviour: libgomp waiting forever for the parent's workers) kills the whole group and fails.
"""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from helpers import fast_module

csoftmax = fast_module()
if not hasattr(os, "fork"):
    pytest.skip("no os.fork on this platform", allow_module_level=True)

TIME_LIMIT = 120

PRELUDE = """
import multiprocessing, os, sys
import numpy as np
import csoftmax

x = np.random.default_rng(0).standard_normal((4096, 1000)).astype(np.float32)
labels = np.random.default_rng(1).integers(0, 1000, 4096)

def compute():
    loss, grad = csoftmax.cross_entropy(x, labels, return_grad=True)
    return [csoftmax.softmax(x), csoftmax.log_softmax(x, axis=0), csoftmax.logsumexp(x),
            np.asarray(loss), grad, csoftmax.softmax_backward(x, x)]

def same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))

def in_child(fn):
    pid = os.fork()
    if pid == 0:
        try:
            code = 0 if fn() else 3
        except BaseException as exc:
            print("child:", repr(exc), file=sys.stderr)
            code = 4
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
"""


def _run(body):
    code = PRELUDE + textwrap.dedent(body)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIME_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the parent and any child it forked
        proc.communicate()
        pytest.fail(f"hung for {TIME_LIMIT} s (a forked child waiting on libgomp?)")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    return out


needs_openmp = pytest.mark.skipif(not csoftmax.openmp_available(), reason="built without OpenMP")


@needs_openmp
def test_child_after_threaded_calls_runs_single_threaded():
    out = _run("""
        csoftmax.set_num_threads(2)
        want = compute()                      # multi-threaded in the parent
        def child():
            ok = csoftmax.get_num_threads() == 1 and same(compute(), want)
            csoftmax.set_num_threads(2)      # asking again changes nothing, and does not hang
            with csoftmax.num_threads(2):
                ok = ok and csoftmax.get_num_threads() == 1 and same(compute(), want)
            # and its own children too
            return ok and in_child(lambda: same(compute(), want)) == 0
        assert in_child(child) == 0
        assert csoftmax.get_num_threads() == 2 and same(compute(), want)   # the parent is fine
        print("ok")
    """)
    assert out.strip() == "ok"


@needs_openmp
def test_multiprocessing_fork_pool_after_threaded_calls():
    out = _run("""
        csoftmax.set_num_threads(2)
        want = csoftmax.softmax(x)
        def work(i):
            return bool(np.array_equal(csoftmax.softmax(x), want)), csoftmax.get_num_threads()
        with multiprocessing.get_context("fork").Pool(2) as pool:
            print(pool.map(work, range(4)))
    """)
    assert out.strip() == str([(True, 1)] * 4)


@needs_openmp
def test_child_forked_before_any_threaded_call_keeps_its_threads():
    out = _run("""
        csoftmax.set_num_threads(2)
        csoftmax.softmax(x[:2])               # too small for threads: no parallel region yet
        def child():
            want = compute()
            with csoftmax.num_threads(1):
                serial = compute()
            return csoftmax.get_num_threads() == 2 and same(want, serial)
        assert in_child(child) == 0
        print("ok")
    """)
    assert out.strip() == "ok"
