"""The output cache (csoftmax/_output_cache.py, src/csm_pool.c): dropped large results are reused,
within the limit, and the arrays it hands out behave as any NumPy array that owns its data."""
import ctypes
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from csoftmax import reference
from helpers import draw, fast_module

csoftmax = fast_module()

BIG = (512, 256)            # 512 KiB in float32, 1 MiB in float64: cached
SMALL = (16, 100)           # below the 128 KiB floor: never cached


@pytest.fixture
def cache():
    """A cache of 8 MiB, empty at the start; the previous limit is restored afterwards."""
    previous = csoftmax.set_output_cache(0)
    csoftmax.set_output_cache(8 << 20)
    yield
    csoftmax.set_output_cache(0)
    csoftmax.set_output_cache(previous)


def _x(shape, dtype=np.float64, seed=0):
    return draw(shape, dtype, seed=seed)


def _addr(a):
    return a.__array_interface__["data"][0]


def test_dropped_result_is_reused(cache):
    x = _x(BIG)
    y = csoftmax.softmax(x)
    first = _addr(y)
    del y
    assert csoftmax.output_cache_info() == (8 << 20, x.nbytes, 1)
    y = csoftmax.softmax(-x)                       # same size: the same block comes back
    assert _addr(y) == first
    assert csoftmax.output_cache_info().cached_blocks == 0
    np.testing.assert_allclose(y, reference.softmax(-x), rtol=1e-12, atol=0)


def test_live_results_never_share_memory(cache):
    x = _x(BIG)
    results = [csoftmax.softmax(x * k) for k in range(4)]
    for k, y in enumerate(results):
        np.testing.assert_allclose(y, reference.softmax(x * k), rtol=1e-12, atol=1e-300)
        assert y.flags.owndata and y.flags.writeable and y.flags.c_contiguous
        assert all(not np.shares_memory(y, z) for z in results[k + 1:])
    assert not np.shares_memory(results[0], x)


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp", "cross_entropy",
                                "softmax_backward", "sigmoid"])
def test_every_producer_returns_correct_values_from_cache(cache, op):
    x = _x((2048, 256))
    target = np.arange(2048) % 256
    args = {"softmax": (x,), "log_softmax": (x,), "logsumexp": (x[None].repeat(64, 0),),
            "cross_entropy": (x, target), "softmax_backward": (x, reference.softmax(x)),
            "sigmoid": (x,)}[op]
    kwargs = {"return_grad": True} if op == "cross_entropy" else {}
    for _ in range(3):   # the 2nd and 3rd calls run on blocks from the cache
        got = getattr(csoftmax, op)(*args, **kwargs)
        want = getattr(reference, op)(*args, **kwargs)
        for g, w in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,)):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-15)
    assert csoftmax.output_cache_info().cached_bytes > 0


def test_small_results_are_not_cached(cache):
    y = csoftmax.softmax(_x(SMALL))
    del y
    assert csoftmax.output_cache_info().cached_blocks == 0


def test_limit_bounds_what_is_kept(cache):
    csoftmax.set_output_cache(3 << 20)            # room for three 1 MiB blocks
    ys = [csoftmax.softmax(_x(BIG, seed=k)) for k in range(6)]
    del ys
    info = csoftmax.output_cache_info()
    assert info.cached_blocks == 3 and info.cached_bytes == 3 * (1 << 20) <= info.limit
    csoftmax.set_output_cache(1 << 20)            # lowering the limit frees the oldest
    assert csoftmax.output_cache_info()[1:] == (1 << 20, 1)
    ys = [csoftmax.softmax(_x(BIG, seed=k)) for k in range(12)]
    del ys
    assert csoftmax.output_cache_info()[1:] == (1 << 20, 1)


def test_at_most_eight_blocks(cache):
    ys = [csoftmax.softmax(_x((256, 128), seed=k)) for k in range(12)]   # 256 KiB each
    del ys
    assert csoftmax.output_cache_info().cached_blocks == 8


def test_block_larger_than_limit_is_not_kept(cache):
    csoftmax.set_output_cache(512 << 10)
    y = csoftmax.softmax(_x(BIG))
    del y
    assert csoftmax.output_cache_info()[1:] == (0, 0)


def test_off_keeps_nothing(cache):
    csoftmax.set_output_cache(0)
    y = csoftmax.softmax(_x(BIG))
    del y
    assert csoftmax.output_cache_info() == (0, 0, 0)


def test_cached_arrays_are_64_byte_aligned(cache):
    for dtype in (np.float32, np.float64):
        y = csoftmax.softmax(_x(BIG, dtype))
        assert _addr(y) % 64 == 0


def test_resize_of_a_cached_array(cache):
    # ndarray.resize goes through the cache's realloc: contents are kept, the array grows.
    x = _x(BIG)
    y = csoftmax.softmax(x)
    want = y.copy()
    y.resize((2 * BIG[0], BIG[1]), refcheck=False)
    np.testing.assert_array_equal(y[:BIG[0]], want)
    np.testing.assert_array_equal(y[BIG[0]:], 0)   # NumPy zero-fills the new part
    y.resize((BIG[0] // 8, BIG[1]), refcheck=False)
    np.testing.assert_array_equal(y, want[:BIG[0] // 8])
    del y
    z = csoftmax.softmax(x)
    np.testing.assert_array_equal(z, want)


class _Handler(ctypes.Structure):    # NumPy's PyDataMem_Handler, version 1
    _fields_ = [("name", ctypes.c_char * 127), ("version", ctypes.c_uint8),
                ("ctx", ctypes.c_void_p), ("malloc", ctypes.c_void_p), ("calloc", ctypes.c_void_p),
                ("realloc", ctypes.c_void_p), ("free", ctypes.c_void_p)]


_KEEP_ALIVE = []   # handlers live as long as the arrays allocated under them


def _numpy_c_api(index, restype, *argtypes):
    """Function `index` of NumPy's C-API table (304 PyDataMem_SetHandler, 305 GetHandler)."""
    multiarray = getattr(np, "_core", None) or np.core
    capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    capsule_pointer.restype, capsule_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                         ctypes.c_char_p]
    table = capsule_pointer(multiarray.multiarray._ARRAY_API, None)
    address = ctypes.c_void_p.from_address(table + index * ctypes.sizeof(ctypes.c_void_p)).value
    return ctypes.PYFUNCTYPE(restype, *argtypes)(address), capsule_pointer   # keeps the GIL


def _handler_name(a):
    multiarray = getattr(np, "_core", None) or np.core
    return multiarray.multiarray.get_handler_name(a)


def test_results_report_the_cache_handler(cache):
    assert _handler_name(csoftmax.softmax(_x(BIG))) == "csoftmax_output_cache"
    assert _handler_name(csoftmax.softmax(_x(SMALL))) == "default_allocator"


def test_a_users_memory_handler_stays_in_charge(cache):
    # Another NEP 49 handler (a memory tracker, say) keeps allocating what is made under it.
    set_handler, capsule_pointer = _numpy_c_api(304, ctypes.py_object, ctypes.py_object)
    get_handler, _ = _numpy_c_api(305, ctypes.py_object)
    default = _Handler.from_address(capsule_pointer(get_handler(), b"mem_handler"))
    mine = _Handler(b"user_tracker", 1, None, default.malloc, default.calloc, default.realloc,
                    default.free)
    new_capsule = ctypes.pythonapi.PyCapsule_New
    new_capsule.restype = ctypes.py_object
    new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    capsule = new_capsule(ctypes.addressof(mine), b"mem_handler", None)
    _KEEP_ALIVE.extend([mine, capsule])
    x = _x(BIG)
    previous = set_handler(capsule)
    try:
        y = csoftmax.softmax(x)
        assert _handler_name(np.empty(3)) == "user_tracker"   # ours was removed again
    finally:
        set_handler(previous)
    assert _handler_name(y) == "user_tracker"
    np.testing.assert_allclose(y, reference.softmax(x), rtol=1e-12)


def test_threads_allocating_and_dropping_concurrently(cache):
    x = _x((1024, 256))
    want = reference.softmax(x)
    errors = []

    def work(seed):
        try:
            rng = np.random.default_rng(seed)
            for _ in range(50):
                rows = int(rng.integers(128, 1024))
                y = csoftmax.softmax(x[:rows])
                np.testing.assert_allclose(y, want[:rows], rtol=1e-12, atol=0)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    info = csoftmax.output_cache_info()
    assert info.cached_bytes <= info.limit and info.cached_blocks <= 8


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (1.5, TypeError), (True, TypeError),
                                     ("1M", TypeError)])
def test_set_output_cache_rejects(bad, exc):
    with pytest.raises(exc):
        csoftmax.set_output_cache(bad)


@pytest.mark.parametrize("value,limit", [("0", 0), ("1048576", 1 << 20), ("256M", 256 << 20),
                                         ("2g", 2 << 30), ("512KiB", 512 << 10)])
def test_env_sets_the_limit(value, limit):
    code = "import csoftmax; print(csoftmax.output_cache_info().limit)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, CSOFTMAX_OUTPUT_CACHE=value))
    assert out.stdout.strip() == str(limit)


def test_env_bad_value_warns_and_uses_default():
    code = "import csoftmax; print(csoftmax.output_cache_info().limit)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, CSOFTMAX_OUTPUT_CACHE="lots"))
    assert out.stdout.strip() == str(64 << 20) and "CSOFTMAX_OUTPUT_CACHE" in out.stderr
