"""Concurrent calls from Python threads give exactly the serial results.

The kernels release the GIL, so calls really overlap; any shared scratch buffer or global
state would show up as a mismatch here. Results are compared bit for bit: the same call on
the same data must be deterministic.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

N_THREADS = 8
ROUNDS = 6


def _tasks(rng):
    """(function name, input, kwargs) covering both dtypes, several shapes and axes."""
    shared = rng.normal(0, 5, (256, 1000)).astype(np.float32)  # read by several threads at once
    shared.flags.writeable = False
    tasks = []
    for i in range(2 * N_THREADS):
        func = ("softmax", "log_softmax", "logsumexp")[i % 3]
        dtype = (np.float32, np.float64)[i % 2]
        shape = [(256, 1000), (64, 30576 // 4), (4096, 10), (300, 65)][i % 4]
        x = rng.normal(0, 10, shape).astype(dtype)
        x[i % shape[0], i % shape[1]] = -np.inf
        axis = (-1, 0)[(i // 4) % 2]
        tasks.append((func, x, {"axis": axis}))
        tasks.append((func, shared, {"axis": -1}))
    return tasks


def _run(fast, task):
    func, x, kwargs = task
    return getattr(fast, func)(x, **kwargs)


def _run_into_out(fast, task):
    func, x, kwargs = task
    ref = getattr(fast, func)(x, **kwargs)
    out = np.empty(np.shape(ref), dtype=ref.dtype)
    assert getattr(fast, func)(x, out=out, **kwargs) is out
    return out


@pytest.mark.parametrize("runner", [_run, _run_into_out], ids=["new-result", "out="])
def test_concurrent_calls_match_serial(fast, runner):
    tasks = _tasks(np.random.default_rng(42))
    serial = [runner(fast, t) for t in tasks]
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        for _ in range(ROUNDS):
            # Reversed order so neighbouring tasks differ from the serial run.
            concurrent = list(pool.map(lambda t: runner(fast, t), tasks[::-1]))[::-1]
            for i, (a, b) in enumerate(zip(serial, concurrent)):
                np.testing.assert_array_equal(a, b, err_msg=f"task {i}: {tasks[i][0]}")


def test_concurrent_in_place(fast):
    # Each thread overwrites its own array in place; the others must not see the writes.
    rng = np.random.default_rng(7)
    inputs = [rng.normal(0, 3, (128, 777)).astype(np.float32) for _ in range(N_THREADS * 2)]
    expected = [fast.softmax(x) for x in inputs]
    work = [x.copy() for x in inputs]
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        results = list(pool.map(lambda x: fast.softmax(x, out=x), work))
    for x, res, want in zip(work, results, expected):
        assert res is x
        np.testing.assert_array_equal(x, want)
