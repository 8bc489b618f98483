"""Softmax over rows split into chunks: the statistics that travel between the chunks.

Each chunk of a row gives ``softmax_stats`` (its max and excess); the chunks' statistics are
combined here (NumPy, in float64: a few values per row and chunk) into those of the whole rows;
then each chunk is normalized with them (``softmax_from_stats``, ``log_softmax_from_stats``) or the
rows' log-sum-exp read from them. Any engine that can gather small per-row arrays can run this
(csoftmax.dask does it with Dask; Ray or MPI can do the same).

Examples
--------
>>> import numpy as np, csoftmax
>>> x = np.array([[0.0, 1.0, 2.0, 3.0]])
>>> parts = [csoftmax.softmax_stats(x[:, :2]), csoftmax.softmax_stats(x[:, 2:])]
>>> stats = csoftmax.combine_softmax_stats(np.stack([p.max for p in parts]),
...                                        np.stack([p.excess for p in parts]))
>>> np.allclose(csoftmax.logsumexp_from_stats(stats), csoftmax.logsumexp(x))
True
>>> y = np.concatenate([csoftmax.softmax_from_stats(x[:, :2], stats),
...                     csoftmax.softmax_from_stats(x[:, 2:], stats)], axis=1)
>>> np.allclose(y, csoftmax.softmax(x))
True
"""
from collections import namedtuple

import numpy as np

__all__ = ["SoftmaxStats", "combine_softmax_stats", "logsumexp_from_stats"]

SoftmaxStats = namedtuple("SoftmaxStats", ["max", "excess"])
SoftmaxStats.__doc__ = """Softmax statistics of rows (float64 arrays of the rows' shape).

``max``: the row's largest value (NaN ignored; -inf for an empty or all -inf row).
``excess``: ``sum(exp(x - max)) - 1``, so that ``logsumexp = max + log1p(excess)`` keeps
relative accuracy near 0; -1 for an empty or all -inf row; NaN when the row holds a NaN."""

_QUIET = dict(over="ignore", under="ignore", invalid="ignore", divide="ignore")


def combine_softmax_stats(max, excess, axis=0, *, keepdims=False):
    """The statistics of whole rows from those of their parts, stacked along `axis`.

    Parameters
    ----------
    max, excess : array_like
        The parts' statistics (:func:`csoftmax.softmax_stats`), stacked along `axis`.
    axis : int, default 0
        The axis the parts are stacked along.
    keepdims : bool, default False
        Keep `axis` with length 1.

    Returns
    -------
    SoftmaxStats
        float64; the max is the parts' largest, and each part's sum is moved to it:
        ``excess = (ties - 1) + sum(excess of the parts at the max) + sum((1 + excess) *
        exp(max_part - max) of the others)``, so a tiny excess keeps its accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> s = combine_softmax_stats([[0.0], [-40.0]], [[0.0], [0.0]])
    >>> s.max, s.excess
    (array([0.]), array([4.24835426e-18]))
    >>> combine_softmax_stats([-np.inf, -np.inf], [-1.0, -1.0])
    SoftmaxStats(max=np.float64(-inf), excess=np.float64(-1.0))
    """
    m_parts = np.asarray(max, dtype=np.float64)
    e_parts = np.asarray(excess, dtype=np.float64)
    with np.errstate(**_QUIET):
        m = np.fmax.reduce(m_parts, axis=axis, keepdims=True)   # NaN-free by construction
        top = m_parts == m
        ties = np.sum(top, axis=axis, keepdims=True, dtype=np.float64)
        below = np.where(top, 0.0, (1 + e_parts) * np.exp(np.where(top, 0.0, m_parts - m)))
        e = (ties - 1) + (np.sum(np.where(top, e_parts, 0.0), axis=axis, keepdims=True)
                          + np.sum(below, axis=axis, keepdims=True))
    if not keepdims:
        m, e = np.squeeze(m, axis=axis), np.squeeze(e, axis=axis)
        if m.ndim == 0:
            m, e = m[()], e[()]
    return SoftmaxStats(m, e)


def logsumexp_from_stats(stats, dtype=np.float64):
    """``max + log1p(excess)``: the rows' log-sum-exp, as `dtype`.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> stats = csoftmax.softmax_stats(np.array([[0.0, -40.0], [-np.inf, -np.inf]]))
    >>> logsumexp_from_stats(stats)
    array([4.24835426e-18,           -inf])
    """
    m, e = stats
    with np.errstate(**_QUIET):
        r = np.asarray(m, dtype=np.float64) + np.log1p(np.asarray(e, dtype=np.float64))
    return r.astype(dtype, copy=False) if r.ndim else np.dtype(dtype).type(r)
