# Included by _core.pyx: top_k_softmax and sample over rows (the C kernels are in src/decode/).
# Argument rules and the per-row uniforms are _decoding_args', shared with the reference.
from libc.float cimport FLT_MIN

from ._decoding_args import (as_rows, check_k, check_temperature, decoding_input, from_rows,
                             raise_bad_row, sampling_options, uniforms)

cdef extern from "csoftmax.h" nogil:
    ctypedef struct csm_decode_args:
        const void *x
        Py_ssize_t nrows, n, ldx
        double inv_temp
        Py_ssize_t k
        double top_p
        double min_p
        int log
        const double *u
        void *values
        long long *indices
        signed char *status
    int csm_top_k_softmax(csm_dtype dt, const csm_decode_args *a, int nthreads)
    int csm_sample(csm_dtype dt, const csm_decode_args *a, int nthreads)


cdef _inputs(logits, axis):
    """decoding_input, with the common call (a native float array, an int axis) inline."""
    if type(logits) is cnp.ndarray and _native_float(<cnp.ndarray>logits) \
            and type(axis) is int and cnp.PyArray_NDIM(<cnp.ndarray>logits) > 0:
        return logits, logits.dtype, _axis_index(axis, cnp.PyArray_NDIM(<cnp.ndarray>logits))
    return decoding_input(logits, axis)


cdef _rows_of(cnp.ndarray x, int ax):
    return _class_rows(x, ax) if cnp.PyArray_SIZE(x) else _c_aligned(as_rows(x, ax))


cdef _decode(bint sampling, csm_decode_args *args, cnp.ndarray rows, batch_shape):
    """Runs the kernel on C-contiguous rows without the GIL; raises for the first bad row. Rows
    whose logits / temperature overflow float32 are redone in float64 (same uniforms); returns
    the values array that holds the results (args.values, or its float64 redo)."""
    cdef cnp.npy_intp nrows = cnp.PyArray_DIMS(rows)[0], r
    cdef cnp.ndarray status = cnp.PyArray_ZEROS(1, &nrows, cnp.NPY_INT8, 0)
    cdef signed char *st = <signed char *>cnp.PyArray_DATA(status)
    cdef csm_dtype dt = _dt(rows)
    cdef int nt = _threads_for(cnp.PyArray_SIZE(rows)), rc
    args.x = cnp.PyArray_DATA(rows)
    args.nrows, args.n = cnp.PyArray_DIMS(rows)[0], cnp.PyArray_DIMS(rows)[1]
    args.ldx = args.n
    args.status = st
    if dt == CSM_FLOAT32 and 0 < args.inv_temp < FLT_MIN:
        # 1 / temperature is 0 or subnormal in float32 (temperature > 8.5e37): z = x / T there
        # would be 0 or keep only a few bits, so the rows are taken in float64, as the reference
        return _redo_in_float64(sampling, args, rows, batch_shape)
    with nogil:
        rc = csm_sample(dt, args, nt) if sampling else csm_top_k_softmax(dt, args, nt)
    if rc != 0:
        raise MemoryError("csoftmax: out of memory for the decoding scratch rows")
    for r in range(nrows):
        if st[r] == 3:
            if dt == CSM_FLOAT64:
                raise ValueError(f"csoftmax: temperature {1 / args.inv_temp!r} is too small for "
                                 "these logits (logits / temperature overflows float64)")
            return _redo_in_float64(sampling, args, rows, batch_shape)
    for r in range(nrows):
        if st[r]:
            raise_bad_row(r, batch_shape, no_finite=st[r] == 2)
    return None


cdef _redo_in_float64(bint sampling, csm_decode_args *args, cnp.ndarray rows, batch_shape):
    cdef cnp.ndarray values = None
    if not sampling:
        values = np.empty((cnp.PyArray_DIMS(rows)[0], args.k))
        args.values = cnp.PyArray_DATA(values)
    _decode(sampling, args, rows.astype(np.float64), batch_shape)
    return values


def top_k_softmax(logits, k, axis=-1, *, temperature=1.0, log=False):
    """The `k` largest entries of ``softmax(logits / temperature)`` along `axis` and their indices,
    without writing the softmax: one threshold scan for the top k, one exp pass for the sum.

    Same semantics as :func:`csoftmax.reference.top_k_softmax`: normalized over the whole row,
    ranked by the logits, largest first, equal logits by lower index (so entries whose
    probabilities round equal keep their logits' order), ``log=True`` for log-probabilities;
    `values` in
    the input's float dtype and int64 `indices`, shaped like `logits` with `axis` of length k.

    >>> import numpy as np, csoftmax
    >>> v, i = csoftmax.top_k_softmax(np.log([[1.0, 4.0, 2.0, 1.0, 2.0]]), 3)
    >>> v.round(6), i
    (array([[0.4, 0.2, 0.2]]), array([[1, 2, 4]]))
    """
    cdef csm_decode_args args
    cdef cnp.ndarray rows, values, indices
    cdef cnp.npy_intp dims[2]
    x, dtype, ax = _inputs(logits, axis)
    shape = (<object>x).shape
    batch_shape = shape[:ax] + shape[ax + 1:]
    if not (type(k) is int and 0 <= k <= shape[ax]):
        k = check_k(k, shape[ax])
    t = temperature
    if not (type(t) is float and 0 < t < np.inf):
        t = check_temperature(temperature, allow_zero=False)
    rows = _rows_of(x, ax)
    dims[0], dims[1] = cnp.PyArray_DIMS(rows)[0], k
    values = cnp.PyArray_EMPTY(2, dims, cnp.PyArray_TYPE(rows), 0)
    indices = cnp.PyArray_EMPTY(2, dims, cnp.NPY_INT64, 0)
    args.inv_temp = 1.0 / t
    args.k = k
    args.log = bool(log)
    args.values = cnp.PyArray_DATA(values)
    args.indices = <long long *>cnp.PyArray_DATA(indices)
    redone = _decode(False, &args, rows, batch_shape)
    if redone is not None:
        with np.errstate(over="ignore"):     # log-probabilities below -3.4e38 are -inf
            values = redone.astype(rows.dtype)
    if ax == len(batch_shape) and dtype is values.dtype:   # axis last: a reshape suffices
        shape = batch_shape + (k,)
        return values.reshape(shape), indices.reshape(shape)
    return (from_rows(values.astype(dtype, copy=False), batch_shape, ax),
            from_rows(indices, batch_shape, ax))


def sample(logits, *, axis=-1, temperature=1.0, top_k=None, top_p=None, min_p=None,
           random_state=None):
    """Draw one index per row along `axis`: temperature, then top_k, top_p and min_p filtering,
    then one uniform per row (int64, the input's shape without `axis`).

    The steps, the random stream (one ``default_rng(random_state).random()`` per row, in row
    order, whatever the thread count) and the errors are those of
    :func:`csoftmax.reference.sample`. With top_k the row is read once; without it the cutoff of
    top_p is found by a radix select, never a sort of the row.

    >>> import numpy as np, csoftmax
    >>> x = np.log([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    >>> csoftmax.sample(x, temperature=0)
    array([3, 0])
    >>> csoftmax.sample(x, top_p=0.5, random_state=1)
    array([3, 1])
    """
    cdef csm_decode_args args
    cdef cnp.ndarray rows, out, u
    x, _, ax = _inputs(logits, axis)
    shape = (<object>x).shape
    batch_shape = shape[:ax] + shape[ax + 1:]
    t, top_k, top_p, min_p = sampling_options(temperature, top_k, top_p, min_p, shape[ax])
    rows = _rows_of(x, ax)
    u = uniforms(random_state, cnp.PyArray_DIMS(rows)[0])
    out = np.empty(cnp.PyArray_DIMS(rows)[0], dtype=np.int64)
    args.inv_temp = 0.0 if t == 0 else 1.0 / t
    args.k = 0 if top_k is None else top_k
    args.top_p = 1.0 if top_p is None else top_p
    args.min_p = 0.0 if min_p is None else min_p
    args.u = <const double *>cnp.PyArray_DATA(u)
    args.indices = <long long *>cnp.PyArray_DATA(out)
    _decode(True, &args, rows, batch_shape)
    return out.reshape(batch_shape)
