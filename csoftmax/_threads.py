"""Thread count of the kernels: CSOFTMAX_NUM_THREADS, else OpenMP's default (OMP_NUM_THREADS,
threadpoolctl's OpenMP limit), else the core count; settable from Python.

Only large calls use more than one thread (at least 65536 elements per thread), and rows are
split so that results are bit-identical whatever the count.
"""
import contextlib
import os
import warnings

from . import _core

__all__ = ["set_num_threads", "get_num_threads", "num_threads"]


def _default_num_threads():
    env = os.environ.get("CSOFTMAX_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
            if n >= 1:
                return n
        except ValueError:
            pass
        warnings.warn(f"CSOFTMAX_NUM_THREADS={env!r} is not a positive integer; ignored",
                      RuntimeWarning, stacklevel=3)
    return max(1, _core._omp_max_threads())


def set_num_threads(n):
    """Set how many threads the kernels may use (1 = no threading).

    Examples
    --------
    >>> import csoftmax
    >>> csoftmax.set_num_threads(1)
    >>> csoftmax.get_num_threads()
    1
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number of threads must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    _core._set_num_threads(n)


def get_num_threads():
    """Number of threads the kernels may use (1 when built without OpenMP)."""
    return _core._get_num_threads()


@contextlib.contextmanager
def num_threads(n):
    """Context manager: use `n` threads inside the block, then restore the previous count.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> with csoftmax.num_threads(1):
    ...     y = csoftmax.softmax(np.zeros((4, 3)))
    """
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        _core._set_num_threads(previous)


_core._set_num_threads(_default_num_threads())
