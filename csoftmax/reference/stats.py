"""Pure-NumPy reference of the statistics of rows split into chunks (the fast versions are in
csoftmax/_stats.pxi, src/csm_stats.h), computed in float64 from the start. Re-exported by
:mod:`csoftmax.reference`; ``combine_softmax_stats`` and ``logsumexp_from_stats`` are NumPy in
both (csoftmax/_stats.py).

Examples
--------
>>> import numpy as np
>>> from csoftmax import reference as ref
>>> x = np.array([[0.0, 1.0, 2.0, 3.0]])
>>> parts = [ref.softmax_stats(x[:, :2]), ref.softmax_stats(x[:, 2:])]
>>> stats = ref.combine_softmax_stats([p.max for p in parts], [p.excess for p in parts])
>>> np.allclose(ref.softmax_from_stats(x[:, 2:], stats), ref.softmax(x)[:, 2:])
True
"""
import numpy as np

from .._stats import SoftmaxStats
from .._validation import as_input, deliver, normalize_axis, reduced_shape, work_dtype

__all__ = ["softmax_stats", "softmax_from_stats", "log_softmax_from_stats"]

_QUIET = dict(over="ignore", under="ignore", invalid="ignore", divide="ignore")


def softmax_stats(x, axis=-1, *, keepdims=False):
    """``(max, excess)`` of each row: the max (NaN ignored; -inf for an empty or all -inf row) and
    ``sum(exp(x - max)) - 1`` (-1 for an empty or all -inf row, 0 for a row with +inf, NaN for a
    row with a NaN), float64.

    Examples
    --------
    >>> import numpy as np
    >>> softmax_stats(np.array([[0.0, -40.0], [-np.inf, np.nan]]))
    SoftmaxStats(max=array([  0., -inf]), excess=array([4.24835426e-18,            nan]))
    """
    arr, _ = as_input(x)
    arr = arr.reshape(1) if arr.ndim == 0 else arr
    ax = normalize_axis(axis, arr.ndim)
    a = arr.astype(np.float64)
    with np.errstate(**_QUIET):
        m = np.fmax.reduce(a, axis=ax, keepdims=True, initial=-np.inf)
        ties = np.sum(a == m, axis=ax, keepdims=True)
        rest = np.sum(np.exp(a - m), axis=ax, keepdims=True, where=a < m)
        e = np.where(m == -np.inf, -1.0, np.where(m == np.inf, 0.0, (ties - 1) + rest))
        e = np.where(np.isnan(a).any(axis=ax, keepdims=True), np.nan, e)
    shape = reduced_shape(arr.shape, ax, keepdims)
    return SoftmaxStats(m.reshape(shape), e.reshape(shape))


def _row_stats(stats, shape, ax):
    kept = reduced_shape(shape, ax, True)
    m = np.asarray(stats[0], dtype=np.float64).reshape(kept)
    e = np.asarray(stats[1], dtype=np.float64).reshape(kept)
    special = ~np.isfinite(m) | np.isnan(e)
    return m, e, special


def softmax_from_stats(x, stats, axis=-1):
    """``exp(x - max) / (1 + excess)`` with the whole rows' statistics; NaN for a row whose max is
    not finite or whose excess is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> softmax_from_stats(np.array([[1.0, -np.inf]]), (np.array([1.0]), np.array([1.0])))
    array([[0.5, 0. ]])
    """
    arr, res = as_input(x)
    ax = normalize_axis(axis, arr.ndim)
    m, e, special = _row_stats(stats, arr.shape, ax)
    with np.errstate(**_QUIET):
        y = np.where(special, np.nan, np.exp(arr.astype(np.float64) - m) / (1 + e))
    return deliver(y.astype(work_dtype(res)), res)


def log_softmax_from_stats(x, stats, axis=-1):
    """``(x - max) - log1p(excess)`` with the whole rows' statistics (NaN rows as
    :func:`softmax_from_stats`).

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax_from_stats(np.array([[0.0, -1.0]]), (np.array([0.0]), np.array([1.0])))
    array([[-0.69314718, -1.69314718]])
    """
    arr, res = as_input(x)
    ax = normalize_axis(axis, arr.ndim)
    m, e, special = _row_stats(stats, arr.shape, ax)
    with np.errstate(**_QUIET):
        y = np.where(special, np.nan, (arr - m.astype(arr.dtype)) - np.log1p(e).astype(arr.dtype))
    return deliver(y.astype(arr.dtype), res)
