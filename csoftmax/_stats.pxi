# Included by _core.pyx: softmax over rows split into chunks (src/stats/csm_stats.h). A chunk's
# statistics, and its normalization given the whole rows' statistics; the combination in between
# is _stats.py's (NumPy, a few values per row). Any axis: the rows are moved last as the losses do.
from ._stats import SoftmaxStats

cdef extern from "csoftmax.h" nogil:
    void csm_row_stats(csm_dtype dt, const void *x, Py_ssize_t nrows, Py_ssize_t n,
                       Py_ssize_t ldx, double *max, double *excess, int nthreads)
    void csm_rows_from_stats(csm_op op, csm_dtype dt, const void *x, void *out,
                             Py_ssize_t nrows, Py_ssize_t n, Py_ssize_t ldx, Py_ssize_t ldo,
                             const double *max, const double *excess, const double *scale,
                             const double *bias, const void *wc, int nthreads)


cdef tuple _chunk_rows(object x, object axis):
    """(rows (N, n) C-contiguous in the compute dtype, result dtype, shape, axis index)"""
    a, res = as_input(x)
    if a.ndim == 0:
        a = a.reshape(1)
    ax = _axis_index(axis, a.ndim)
    if a.shape[ax] == 0 or a.size == 0:
        return None, res, a.shape, ax
    return _class_rows(a, ax), res, a.shape, ax


def softmax_stats(x, axis=-1, *, keepdims=False):
    """Softmax statistics of the rows of `x` (a chunk of longer rows), for
    :func:`combine_softmax_stats`.

    Parameters
    ----------
    x : array_like
        A chunk: part of every row, any part (dtype rules as :func:`softmax`).
    axis : int, default -1
        The axis along which the rows run.
    keepdims : bool, default False
        Keep `axis` with length 1.

    Returns
    -------
    SoftmaxStats
        ``(max, excess)``, float64 arrays of the rows' shape: the max and ``sum(exp(x - max)) -
        1``, with the sums of :func:`softmax` (exps under the max's shift, float32 lanes summed in
        double). An empty or all -inf row gives ``(-inf, -1)``; a NaN makes the excess NaN.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> csoftmax.softmax_stats(np.array([[0.0, np.log(3.0)], [-np.inf, -np.inf]]))
    SoftmaxStats(max=array([1.09861229,       -inf]), excess=array([ 0.33333333, -1.        ]))
    """
    cdef cnp.ndarray rows, m, e
    cdef Py_ssize_t nrows, n
    cdef int nt
    cdef csm_dtype dt
    cdef const void *xp
    cdef double *mp
    cdef double *ep
    rows, _, shape, ax = _chunk_rows(x, axis)
    rshape = reduced_shape(shape, ax, keepdims)
    m = np.empty(rshape, dtype=np.float64)
    e = np.empty(rshape, dtype=np.float64)
    if rows is None:
        m.fill(-np.inf)
        e.fill(-1.0)
    else:
        nrows, n = (<object>rows).shape
        dt, nt, xp = _dt(rows), _threads_for(nrows * n), cnp.PyArray_DATA(rows)
        mp, ep = <double *>cnp.PyArray_DATA(m), <double *>cnp.PyArray_DATA(e)
        with nogil:
            csm_row_stats(dt, xp, nrows, n, n, mp, ep, nt)
    return SoftmaxStats(m, e)


cdef cnp.ndarray _row_stat(object v, tuple rshape, int ax, Py_ssize_t nrows, str name):
    """One of the statistics as nrows contiguous doubles in the rows' order, from the rows'
    shape with or without the axis"""
    a = np.asarray(v, dtype=np.float64)
    kept = rshape[:ax] + (1,) + rshape[ax:]
    if a.shape == kept:
        a = a.reshape(rshape)
    elif a.shape != rshape:
        raise ValueError(f"csoftmax: stats.{name} has shape {a.shape}, expected {rshape} "
                         f"(or {kept})")
    return _c_aligned(a).reshape(nrows)


cdef object _from_stats(csm_op op, object x, object stats, object axis, object scale=None,
                        object bias=None, object wc=None):
    cdef cnp.ndarray rows, m, e, out, sc = None, bi = None, w = None
    cdef Py_ssize_t nrows, n
    cdef int nt
    cdef csm_dtype dt
    cdef const void *xp
    cdef void *op_
    cdef const double *mp
    cdef const double *ep
    cdef const double *sp = NULL
    cdef const double *bp = NULL
    cdef const void *wp = NULL
    rows, res, shape, ax = _chunk_rows(x, axis)
    rshape = reduced_shape(shape, ax, False)
    nrows = int(np.prod(rshape))
    m = _row_stat(stats[0], rshape, ax, nrows, "max")
    e = _row_stat(stats[1], rshape, ax, nrows, "excess")
    if rows is None:
        return np.empty(shape, dtype=res)
    out = _empty_like_c(rows)
    n = (<object>rows).shape[1]
    dt, nt = _dt(rows), _threads_for(nrows * n)
    xp, op_ = cnp.PyArray_DATA(rows), cnp.PyArray_DATA(out)
    mp, ep = <const double *>cnp.PyArray_DATA(m), <const double *>cnp.PyArray_DATA(e)
    if scale is not None:
        sc = _row_stat(scale, rshape, ax, nrows, "scale")
        sp = <const double *>cnp.PyArray_DATA(sc)
        if bias is not None:
            bi = _row_stat(bias, rshape, ax, nrows, "bias")
            bp = <const double *>cnp.PyArray_DATA(bi)
        if wc is not None:
            w = _c_aligned(np.asarray(wc, dtype=rows.dtype).reshape(n))
            wp = cnp.PyArray_DATA(w)
    with nogil:
        csm_rows_from_stats(op, dt, xp, op_, nrows, n, n, n, mp, ep, sp, bp, wp, nt)
    return from_class_rows(out, shape, ax, res)


def _scaled_softmax_from_stats(x, stats, scale, bias=None, wc=None, axis=-1):
    """``softmax_from_stats(x, stats) * scale - bias * wc`` in the same pass (scale and bias per
    row, wc per entry of the chunk's rows or None for 1): the cross-entropy gradient's form."""
    return _from_stats(CSM_SOFTMAX, x, stats, axis, scale, bias, wc)


def softmax_from_stats(x, stats, axis=-1):
    """Softmax of a chunk `x` of longer rows, given the whole rows' statistics.

    Parameters
    ----------
    x : array_like
        The chunk (dtype rules as :func:`softmax`).
    stats : SoftmaxStats
        The whole rows' statistics (:func:`combine_softmax_stats` of every chunk's
        :func:`softmax_stats`), of the rows' shape, with or without `axis`.
    axis : int, default -1

    Returns
    -------
    ndarray
        ``exp(x - max) / (1 + excess)``, computed as :func:`softmax` computes it (one pass over
        `x`). A row whose statistics have no finite max or a NaN gives NaN.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> stats = csoftmax.SoftmaxStats(np.array([1.0]), np.array([1.0]))   # row [.., 1.0, 1.0]
    >>> csoftmax.softmax_from_stats(np.array([[1.0, -np.inf]]), stats)
    array([[0.5, 0. ]])
    """
    return _from_stats(CSM_SOFTMAX, x, stats, axis)


def log_softmax_from_stats(x, stats, axis=-1):
    """Log-softmax of a chunk `x` of longer rows, given the whole rows' statistics:
    ``(x - max) - log1p(excess)``, as :func:`log_softmax` computes it. See
    :func:`softmax_from_stats`.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> stats = csoftmax.SoftmaxStats(np.array([0.0]), np.array([1.0]))
    >>> csoftmax.log_softmax_from_stats(np.array([[0.0, -1.0]]), stats)
    array([[-0.69314718, -1.69314718]])
    """
    return _from_stats(CSM_LOG_SOFTMAX, x, stats, axis)
