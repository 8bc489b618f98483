"""csoftmax on Dask arrays: lazy softmax, log_softmax, logsumexp and cross_entropy whose results
equal the one-machine functions' (within their documented accuracy) for any chunking.

Needs the ``dask`` extra (``pip install "csoftmax[dask]"``). ``csoftmax.softmax(x)`` and friends
given a Dask array return these functions' results too.

* The reduced axis within one chunk: each chunk is one call of the csoftmax function
  (``map_blocks``).
* The reduced axis split across chunks: each chunk gives its rows' statistics
  (:func:`csoftmax.softmax_stats`), a tree reduction combines them (``split_every``;
  :func:`csoftmax.combine_softmax_stats`), then each chunk is normalized in one pass
  (:func:`csoftmax.softmax_from_stats`). x is read twice in all and never rechunked.

Each task runs its kernel on ``get_task_threads()`` threads (1 unless set: Dask already runs a
task per core), fixed when the graph is built.

Examples
--------
>>> import numpy as np, dask.array as da, csoftmax.dask as csd
>>> x = da.from_array(np.array([[0.0, np.log(3.0), -np.inf, 0.0]]), chunks=(1, 2))
>>> y = csd.softmax(x)          # lazy: nothing computed yet
>>> y.compute()
array([[0.2, 0.6, 0. , 0.2]])
>>> round(float(csd.logsumexp(x).compute()[0]), 12)   # log 5
1.609437912434
"""
import functools

import dask.array as da
import numpy as np

import csoftmax

from ._stats import combine_softmax_stats, logsumexp_from_stats
from ._loss_args import cross_entropy_inputs
from ._validation import _dtypes_for, normalize_axis

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "row_stats", "set_task_threads",
           "get_task_threads"]

_task_threads = 1

# The combined statistics travel as one array (Dask reductions give one): a field per statistic.
_STATS = np.dtype([("max", np.float64), ("excess", np.float64)])


def set_task_threads(n):
    """Kernel threads per Dask task in graphs built from now on (default 1).

    Examples
    --------
    >>> set_task_threads(1)
    >>> get_task_threads()
    1
    """
    global _task_threads
    csoftmax._threads._check_count(n)
    _task_threads = n


def get_task_threads():
    """Kernel threads per Dask task (see :func:`set_task_threads`)."""
    return _task_threads


def _in_task(fn, nthreads, *args, **kwargs):
    """fn(*args, **kwargs) on nthreads kernel threads (the worker thread's own setting)."""
    with csoftmax.num_threads(nthreads):
        return fn(*args, **kwargs)


def _task(fn):
    return functools.partial(_in_task, fn, _task_threads)


def _as_dask(x):
    a = x if isinstance(x, da.Array) else da.asarray(x)
    _dtypes_for(a.dtype)   # the TypeError of a dtype csoftmax does not take
    return a


def _result_dtype(x):
    return _dtypes_for(x.dtype)[1]


# --------------------------------------------------------------------------- row statistics

# computing_meta: Dask's probe with an empty array, as its own dict-valued reductions answer it
def _stats_chunk(x, axis, keepdims, nthreads=1, computing_meta=False):
    if computing_meta:
        return x
    s = _in_task(csoftmax.softmax_stats, nthreads, x, axis=axis[0], keepdims=True)
    return {"max": s.max, "excess": s.excess}


def _stats_combine(parts, axis, keepdims, computing_meta=False):
    if computing_meta:
        return parts
    s = combine_softmax_stats(parts["max"], parts["excess"], axis=axis[0], keepdims=True)
    return {"max": s.max, "excess": s.excess}


def _stats_pack(parts, axis, keepdims):
    s = combine_softmax_stats(parts["max"], parts["excess"], axis=axis[0], keepdims=keepdims)
    out = np.empty(np.shape(s.max), dtype=_STATS)
    out["max"], out["excess"] = s.max, s.excess
    return out


def _lse_aggregate(parts, axis, keepdims, dtype):
    s = combine_softmax_stats(parts["max"], parts["excess"], axis=axis[0], keepdims=keepdims)
    return np.asarray(logsumexp_from_stats(s, dtype))


def _reduce_stats(x, axis, aggregate, keepdims, dtype, split_every):
    return da.reduction(x, functools.partial(_stats_chunk, nthreads=_task_threads), aggregate,
                        combine=_stats_combine, axis=axis, keepdims=keepdims, dtype=dtype,
                        split_every=split_every, concatenate=True, name="csoftmax-stats",
                        meta=np.empty((0,) * (x.ndim - (not keepdims)), dtype=dtype))


def row_stats(x, axis=-1, *, split_every=None):
    """The rows' combined statistics as a lazy array of the rows' shape with fields ``max`` and
    ``excess`` (see :class:`csoftmax.SoftmaxStats`).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> s = row_stats(da.from_array(np.array([[0.0, -40.0]]), chunks=1)).compute()
    >>> float(s["max"][0]), float(s["excess"][0])
    (0.0, 4.248354255291589e-18)
    """
    x = _as_dask(x)
    ax = normalize_axis(axis, x.ndim)
    return _reduce_stats(x, ax, _stats_pack, False, _STATS, split_every)


# --------------------------------------------------------------------- softmax and log_softmax

def _normalize_block(x, stats, axis, log):
    s = csoftmax.SoftmaxStats(stats["max"], stats["excess"])
    f = csoftmax.log_softmax_from_stats if log else csoftmax.softmax_from_stats
    return f(x, s, axis=axis)


def _softmax_like(x, axis, log, split_every):
    x = _as_dask(x)
    if axis is None:
        return _softmax_like(x.reshape(-1), 0, log, split_every).reshape(x.shape)
    ax = normalize_axis(axis, x.ndim)
    res = _result_dtype(x)
    if x.numblocks[ax] == 1:
        f = csoftmax.log_softmax if log else csoftmax.softmax
        return x.map_blocks(_task(f), axis=ax, dtype=res, token="csoftmax-" + f.__name__)
    stats = _reduce_stats(x, ax, _stats_pack, False, _STATS, split_every)
    ind = tuple(range(x.ndim))
    return da.blockwise(_task(_normalize_block), ind, x, ind, stats, ind[:ax] + ind[ax + 1:],
                        axis=ax, log=log, dtype=res,
                        token="csoftmax-" + ("log_softmax" if log else "softmax"),
                        meta=np.empty((0,) * x.ndim, dtype=res))


def softmax(x, axis=-1, *, split_every=None):
    """:func:`csoftmax.softmax` of a Dask array, lazily.

    Parameters
    ----------
    x : dask.array.Array (or array_like)
    axis : int or None, default -1
        None: the whole array is one row (it is flattened, which may rechunk it).
    split_every : int, optional
        The tree reduction's fan-in when the axis is split across chunks (Dask's default else).

    Returns
    -------
    dask.array.Array
        x's chunks and shape, the dtype csoftmax.softmax gives.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.log(np.arange(1.0, 5.0, dtype=np.float32)), chunks=3)
    >>> softmax(x).compute()
    array([0.1, 0.2, 0.3, 0.4], dtype=float32)
    """
    return _softmax_like(x, axis, False, split_every)


def log_softmax(x, axis=-1, *, split_every=None):
    """:func:`csoftmax.log_softmax` of a Dask array, lazily (see :func:`softmax`).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.array([0.0, -40.0]), chunks=1)
    >>> float(log_softmax(x).compute()[0])
    -4.248354255291589e-18
    """
    return _softmax_like(x, axis, True, split_every)


def _lse_block(x, axis, keepdims):
    return np.asarray(csoftmax.logsumexp(x, axis=axis, keepdims=keepdims))


def logsumexp(x, axis=-1, *, keepdims=False, split_every=None):
    """:func:`csoftmax.logsumexp` of a Dask array, lazily (see :func:`softmax`).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.array([[0.0, -40.0], [1e308, 1e308]]), chunks=1)
    >>> logsumexp(x).compute()
    array([4.24835426e-018, 1.00000000e+308])
    >>> logsumexp(x, keepdims=True).shape
    (2, 1)
    """
    x = _as_dask(x)
    if axis is None:
        r = logsumexp(x.reshape(-1), 0, split_every=split_every)
        return r.reshape((1,) * x.ndim) if keepdims else r
    ax = normalize_axis(axis, x.ndim)
    res = _result_dtype(x)
    if x.numblocks[ax] == 1:
        return x.map_blocks(_task(_lse_block), axis=ax, keepdims=keepdims, dtype=res,
                            drop_axis=[] if keepdims else [ax],
                            chunks=x.chunks[:ax] + ((1,),) + x.chunks[ax + 1:] if keepdims else None,
                            token="csoftmax-logsumexp")
    agg = functools.partial(_lse_aggregate, dtype=res)
    return _reduce_stats(x, ax, agg, keepdims, res, split_every)


# --------------------------------------------------------------------------- cross-entropy

def _ce_block(x, t, gscale, **kw):
    """The axis in one chunk: the csoftmax kernel, per-row losses (float64) and the gradient of
    their sum times gscale"""
    r = csoftmax.cross_entropy(x, t, reduction="none", **kw)
    loss, g = r if kw["return_grad"] else (r, None)
    gscale = float(gscale)
    if g is not None and gscale != 1:
        np.multiply(g, gscale, out=g)
    return loss.astype(np.float64)[..., None], g


def _ce_chunk(x, t, stats, offset, gscale, prob_total=None, **kw):
    """The axis split: one chunk of the classes (last) of rows in any shape"""
    nrows = int(np.prod(x.shape[:-1]))
    rows = x.reshape(nrows, x.shape[-1])
    t = t.reshape(rows.shape) if t.dtype.kind == "f" else t.reshape(-1)
    r = csoftmax.cross_entropy_from_stats(rows, t, (stats["max"], stats["excess"]),
                                          class_offset=int(offset[0]), grad_scale=float(gscale),
                                          prob_total=prob_total, **kw)
    loss, g = r if kw["return_grad"] else (r, None)
    return loss.reshape(x.shape[:-1] + (1,)), (None if g is None else g.reshape(x.shape))


def _row_weight(t, weight, ignore_index):
    """The mean's denominator per row: weight[t] (or 1), 0 for ignored rows"""
    keep = t != ignore_index
    if weight is None:
        return keep.astype(np.float64)
    # out-of-range targets are clipped here: the loss's tasks raise their IndexError
    return np.where(keep, weight[np.clip(np.where(keep, t, 0), 0, len(weight) - 1)], 0
                    ).astype(np.float64)


def _mean_scale(denom):
    return np.float64(1 / denom if denom != 0 else np.nan)


def _finish(total, denom, dtype):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / denom if denom != 0 else np.nan).astype(dtype)


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, return_grad=False, split_every=None):
    """:func:`csoftmax.cross_entropy` of Dask logits, lazily: the loss (0-d for "mean" and "sum")
    and, with ``return_grad``, the gradient with the logits' chunks.

    `target` may be a Dask or NumPy array. With the class axis split across chunks, each chunk
    runs :func:`csoftmax.cross_entropy_from_stats` after the rows' statistics are combined
    (probability targets: with each row's sum of target coefficients, a reduction of the
    targets). Out-of-range targets raise IndexError when the graph is computed.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), chunks=(1, 2))
    >>> loss, grad = cross_entropy(x, np.array([0, 1]), return_grad=True)
    >>> round(float(loss.compute()), 6), grad.chunks
    (0.669079, ((1, 1), (2, 1)))
    """
    x, res, ax, C, batch, reduction, eps, w, ignore_index, t, prob = cross_entropy_inputs(
        _as_dask(logits), target if isinstance(target, da.Array) else np.asarray(target), axis,
        weight, ignore_index, reduction, label_smoothing, lazy=True)
    xl = da.moveaxis(x, ax, -1) if ax != x.ndim - 1 else x
    if prob:
        t = da.moveaxis(da.asarray(t), ax, -1) if ax != x.ndim - 1 else da.asarray(t)
        t = t.rechunk(xl.chunks)
    else:
        t = da.asarray(t).rechunk(xl.chunks[:-1])
    nd = xl.ndim
    ind = tuple(range(nd))
    if prob:
        denom = da.from_array(np.float64(int(np.prod(batch))))
    else:
        denom = t.map_blocks(_row_weight, weight=w, ignore_index=ignore_index,
                             dtype=np.float64).sum()
    gscale = (da.blockwise(_mean_scale, (), denom, (), dtype=np.float64)
              if reduction == "mean" else da.from_array(np.float64(1.0)))
    kw = dict(weight=w, ignore_index=ignore_index, label_smoothing=eps, return_grad=return_grad)
    meta = np.empty((0,) * nd, dtype=res)
    if xl.numblocks[-1] == 1:
        pairs = da.blockwise(_task(_ce_block), ind, xl, ind, t, ind if prob else ind[:-1],
                             gscale, (), dtype=res, meta=meta, token="csoftmax-ce", **kw)
    else:
        stats = _reduce_stats(xl, nd - 1, _stats_pack, False, _STATS, split_every)
        starts = np.cumsum((0,) + xl.chunks[-1][:-1])
        offsets = da.from_array(starts, chunks=1)
        extra = ()
        if prob:   # each row's sum of target coefficients, for every chunk's gradient
            coef = (1 - eps) * t.astype(np.float64) + eps / C
            extra = ((coef if w is None else coef * w).sum(axis=-1), ind[:-1])
        # the offsets align with the class chunks by block, not by length
        pairs = da.blockwise(_task(_ce_chunk), ind, xl, ind, t, ind if prob else ind[:-1], stats,
                             ind[:-1], offsets, ind[-1:], gscale, (), *extra, dtype=res,
                             meta=meta, token="csoftmax-ce", align_arrays=False, num_classes=C,
                             **kw)
    # each task's losses (its share of its rows'), a column per class chunk, summed
    parts = pairs.map_blocks(_first, chunks=xl.chunks[:-1] + ((1,) * xl.numblocks[-1],),
                             dtype=np.float64, meta=np.empty((0,) * nd))
    losses = parts.sum(axis=-1, split_every=split_every)
    if reduction == "none":
        loss = losses.astype(res)
    elif reduction == "sum":
        loss = losses.sum(split_every=split_every).astype(res)
    else:
        loss = da.blockwise(functools.partial(_finish, dtype=res), (),
                            losses.sum(split_every=split_every), (), denom, (), dtype=res,
                            meta=np.empty((), res))
    if not return_grad:
        return loss
    grad = pairs.map_blocks(_second, dtype=res, meta=meta)
    return loss, (da.moveaxis(grad, -1, ax) if ax != x.ndim - 1 else grad)


def _first(pair):
    return pair[0]


def _second(pair):
    return pair[1]
