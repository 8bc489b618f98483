"""Thread count of the kernels: CSOFTMAX_NUM_THREADS, else OpenMP's default (OMP_NUM_THREADS,
threadpoolctl's OpenMP limit), else the core count; settable from Python.

Only large calls use more than one thread (at least 65536 elements per thread), and rows are
split so that results are bit-identical whatever the count.

``set_num_threads`` sets the process's limit; ``num_threads`` overrides it for the calling
thread only, so Python threads never see each other's override. A process forked (``os.fork``,
multiprocessing's "fork" start method) after csoftmax has run a multi-threaded call runs every
call on one thread: libgomp cannot start threads in such a child (it would wait forever for the
parent's workers). Use the "spawn" or "forkserver" start method for multi-threaded workers.
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
            if 1 <= n <= MAX_THREADS:
                return n
        except ValueError:
            pass
        warnings.warn(f"CSOFTMAX_NUM_THREADS={env!r} is not an integer between 1 and {MAX_THREADS}; ignored",
                      RuntimeWarning, stacklevel=3)
    return max(1, _core._omp_max_threads())


# More threads than any server has hardware threads for (8 sockets of 2-way SMT cores: 1920);
# beyond it a count is a mistake, and each call could ask libgomp for that many threads.
MAX_THREADS = 4096


def _check_count(n):
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number of threads must be an int, got {type(n).__name__}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"number of threads must be between 1 and {MAX_THREADS}, got {n}")
    return n


def set_num_threads(n):
    """Set how many threads the kernels may use in this process (1 = no threading).

    A thread inside a :func:`num_threads` block keeps that block's count.

    Raises
    ------
    TypeError
        If `n` is not an int.
    ValueError
        If `n` is not between 1 and 4096.

    Examples
    --------
    >>> import csoftmax
    >>> csoftmax.set_num_threads(1)
    >>> csoftmax.get_num_threads()
    1
    """
    _core._set_num_threads(_check_count(n))


def get_num_threads():
    """Number of threads the kernels may use for a call made now from this thread.

    The calling thread's :func:`num_threads` override if any, else the process's count; 1 when
    built without OpenMP, and 1 in a child forked after a multi-threaded call.
    """
    return _core._thread_limit()


@contextlib.contextmanager
def num_threads(n):
    """Context manager: calls from this thread use `n` threads inside the block.

    Only the calling thread is affected (other threads keep their own count), and on exit its
    previous count is back, however the block ends. Blocks nest.

    Raises
    ------
    TypeError, ValueError
        As :func:`set_num_threads`, before the block starts.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> with csoftmax.num_threads(1):
    ...     y = csoftmax.softmax(np.zeros((4, 3)))
    """
    n = _check_count(n)   # checked as set_num_threads checks it, with or without OpenMP
    if not _core.openmp_available():
        n = 1
    previous = _core._get_thread_override()
    _core._set_thread_override(n)
    try:
        yield
    finally:
        _core._set_thread_override(previous)


_core._set_num_threads(_default_num_threads())
