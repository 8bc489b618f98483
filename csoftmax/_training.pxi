# Included by _core.pyx: the training functions (fused cross-entropy, backward passes, sigmoid
# family, binary cross-entropy). Argument checks are _loss_args', shared with the reference;
# every loop over the data is in C (src/losses/csm_losses.h, csm_elementwise.h).
import operator

from ._loss_args import (_REDUCTIONS, backward_inputs, bce_inputs, check_class_weight,
                         check_classes, check_probability_target, cross_entropy_inputs,
                         index_target_array, raise_bad_target)
from ._validation import class_rows, from_class_rows
from .reference.losses import nll_loss as _reference_nll_loss

cdef extern from "csoftmax.h" nogil:
    ctypedef struct csm_ce_args:
        const void *x
        Py_ssize_t nrows, ncls, ldx
        const long long *target
        long long ignore_index
        const void *prob
        Py_ssize_t ldq
        const void *weight
        double weight_total
        double smoothing
        double grad_scale
        void *grad
        Py_ssize_t ldg
        double *loss
    int csm_cross_entropy(csm_dtype dt, const csm_ce_args *a, int nthreads)
    Py_ssize_t csm_ce_check_targets(csm_dtype dt, const long long *target, Py_ssize_t n,
                                    Py_ssize_t ncls, long long ignore_index, const void *weight,
                                    double *denom)
    double csm_sum(const double *v, Py_ssize_t n)
    void csm_softmax_backward(csm_dtype dt, int log, const void *g, const void *y, void *out,
                              Py_ssize_t nrows, Py_ssize_t n, int nthreads)
    void csm_sigmoid(csm_dtype dt, int log, const void *x, void *out, Py_ssize_t n)
    double csm_binary_cross_entropy(csm_dtype dt, const void *x, const void *t, const void *w,
                                    Py_ssize_t n, double grad_scale, void *loss, void *grad)

from libc.stdint cimport INT64_MIN
cdef long long _INT64_MIN = INT64_MIN


cdef cnp.ndarray _class_rows(cnp.ndarray a, int ax):
    """class_rows(a, ax) as the kernels read them: C-contiguous and aligned."""
    if (ax == cnp.PyArray_NDIM(a) - 1 and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISALIGNED(a)):
        return a.reshape(-1, cnp.PyArray_DIMS(a)[ax])   # the common call, a view
    return _c_aligned(class_rows(a, ax))


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                  reduction="mean", label_smoothing=0.0, return_grad=False):
    """Softmax cross-entropy from logits, optionally with its gradient, in one fused pass.

    Same semantics as PyTorch's ``torch.nn.functional.cross_entropy`` (``weight``,
    ``ignore_index``, ``reduction``, ``label_smoothing``) with any class axis; see
    :func:`csoftmax.reference.cross_entropy` for the exact formulas.

    Parameters
    ----------
    logits : array_like
        Scores, at least 1-D; float32/float64 (float16 computed in float32, ints as float64).
    target : array_like
        Integer class indices with the shape of `logits` without `axis`, or floating class
        probabilities with the shape of `logits`.
    axis : int, default -1
        The class axis.
    weight : array_like, optional
        Per-class weights (length C).
    ignore_index : int, default -100
        Index targets with this value add no loss, no gradient, and no weight to the mean.
    reduction : {"mean", "sum", "none"}
    label_smoothing : float in [0, 1]
    return_grad : bool
        Also return d(loss)/d(logits) (of ``loss.sum()`` for "none"), computed in the same pass
        over the logits.

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray, only with ``return_grad=True``

    Notes
    -----
    A row (not ignored) with NaN or +inf logits, or only -inf logits, has a NaN loss and
    gradient. -inf logits elsewhere get a zero gradient; the loss is +inf only if the target puts
    probability on them. Tiny losses keep relative accuracy.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> float(csoftmax.cross_entropy(np.array([[0.0, -37.0]]), [0]))
    8.533047625744066e-17
    >>> loss, grad = csoftmax.cross_entropy(np.array([[2.0, 0.0], [0.0, 0.0]]), [0, 1],
    ...                                     reduction="sum", return_grad=True)
    >>> round(float(loss), 6), grad.sum(axis=1)
    (0.820075, array([0., 0.]))
    """
    cdef cnp.ndarray x, rows, t64, q = None, w = None, losses, grad = None
    cdef csm_ce_args args
    cdef Py_ssize_t bad, N, C
    cdef double denom = 0
    cdef int nt, status
    cdef csm_dtype dt
    if _is_dask(logits):
        return _dask_call("cross_entropy", None, (logits, target),
                          dict(axis=axis, weight=weight, ignore_index=ignore_index,
                               reduction=reduction, label_smoothing=label_smoothing,
                               return_grad=return_grad))
    # The common call (int class axis, known reduction, float smoothing, int or float target) is
    # checked inline with cross_entropy_inputs' own rules in its order; anything else goes
    # through cross_entropy_inputs itself, so the errors are the reference's.
    if type(logits) is cnp.ndarray and _native_float(<cnp.ndarray>logits):
        x, res_dtype = logits, logits.dtype
    else:
        x, res_dtype = as_input(logits)   # its TypeError is cross_entropy_inputs' first check
    tgt = np.asarray(target)
    kind = tgt.dtype.kind
    if (cnp.PyArray_NDIM(x) > 0 and type(axis) is int
            and type(reduction) is str and reduction in _REDUCTIONS
            and type(label_smoothing) is float and 0.0 <= label_smoothing <= 1.0
            and kind in ("i", "u", "f")):
        ax, eps = _axis_index(axis, cnp.PyArray_NDIM(x)), label_smoothing
        shape = (<object>x).shape
        C = shape[ax] if shape[ax] else check_classes(0, "logits")
        if weight is not None:
            w = _c_aligned(check_class_weight(weight, C, x.dtype))
        ignore_index = operator.index(ignore_index)
        batch_shape = shape[:ax] + shape[ax + 1:]
        if kind == "f":
            check_probability_target(tgt, shape, ignore_index)
    else:
        x, res_dtype, ax, C, batch_shape, reduction, eps, w, ignore_index, tgt, probability = (
            cross_entropy_inputs(x, tgt, axis, weight, ignore_index, reduction, label_smoothing))
        shape = (<object>x).shape
        if w is not None:
            w = _c_aligned(w)
    rows = _class_rows(x, ax)
    N = cnp.PyArray_DIMS(rows)[0]
    args.x = cnp.PyArray_DATA(rows)
    args.nrows, args.ncls, args.ldx = N, C, C
    args.target = NULL
    args.prob = NULL
    args.ldq = C
    args.weight = cnp.PyArray_DATA(w) if w is not None else NULL
    args.weight_total = float(w.sum(dtype=np.float64)) if w is not None else <double>C
    args.smoothing = eps
    if kind in "iu":
        if (cnp.PyArray_TYPE(<cnp.ndarray>tgt) == cnp.NPY_INT64
                and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>tgt)
                and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>tgt)
                and cnp.PyArray_ISALIGNED(<cnp.ndarray>tgt) and tgt.shape == batch_shape):
            t64 = tgt.reshape(-1)
        else:
            t64 = _c_aligned(index_target_array(tgt, batch_shape, C))
        if -(1 << 63) <= ignore_index < (1 << 63):
            args.ignore_index = ignore_index
        else:  # no int64 target can equal it: use a sentinel that is out of bounds anyway
            if N and (t64 == _INT64_MIN).any():
                raise_bad_target(_INT64_MIN, C, ignore_index)
            args.ignore_index = _INT64_MIN
        bad = csm_ce_check_targets(_dt(rows), <const long long *>cnp.PyArray_DATA(t64), N, C,
                                   args.ignore_index, args.weight, &denom)
        if bad >= 0:
            raise_bad_target(int(t64[bad]), C, ignore_index)
        args.target = <const long long *>cnp.PyArray_DATA(t64)
    else:
        q = _class_rows(tgt.astype(x.dtype, copy=False), ax)   # any float dtype, as the reference
        args.prob = cnp.PyArray_DATA(q)
        denom = <double>N
    args.grad_scale = 1.0
    if reduction == "mean":
        args.grad_scale = 1.0 / denom if denom != 0 else float("nan")
    losses = np.empty(N, dtype=np.float64)
    args.loss = <double *>cnp.PyArray_DATA(losses)
    args.grad = NULL
    args.ldg = C
    if return_grad:
        grad = _empty_like_c(rows)
        args.grad = cnp.PyArray_DATA(grad)
    nt = _threads_for(N * C)
    dt = _dt(rows)
    with nogil:
        status = csm_cross_entropy(dt, &args, nt)
    if status != 0:
        raise MemoryError("csoftmax: out of memory in cross_entropy")
    if reduction == "none":
        loss = deliver(losses.reshape(batch_shape), res_dtype)
    else:
        total = csm_sum(<double *>cnp.PyArray_DATA(losses), N)
        if reduction == "mean":
            total = total / denom if denom != 0 else float("nan")
        loss = res_dtype.type(total)
    if not return_grad:
        return loss
    return loss, from_class_rows(grad, shape, ax, res_dtype)


def nll_loss(log_probs, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer targets given log-probabilities.

    It only gathers one value per sample, O(N) work with nothing for a kernel to fuse, so this is
    :func:`csoftmax.reference.nll_loss` itself.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> float(csoftmax.nll_loss(np.log(np.array([[0.25, 0.75]])), [1]))
    0.2876820724517809
    """
    return _reference_nll_loss(log_probs, target, axis=axis, weight=weight,
                               ignore_index=ignore_index, reduction=reduction)


cdef object _backward(int log, grad, y, axis, out):
    cdef cnp.ndarray g, yy, gr, yr, r
    cdef Py_ssize_t nrows, n
    cdef int nt
    cdef csm_dtype dt
    cdef void *gp
    cdef void *yp
    cdef void *rp
    g, yy, ax, res = backward_inputs(grad, y, axis, out)
    shape = (<object>g).shape
    if g.size == 0:
        return deliver(np.empty(shape, res), res, out)
    gr = _class_rows(g, ax)
    yr = _class_rows(yy, ax)
    r = _empty_like_c(gr)
    nrows, n = (<object>gr).shape
    nt = _threads_for(gr.size)
    dt = _dt(gr)
    gp, yp, rp = cnp.PyArray_DATA(gr), cnp.PyArray_DATA(yr), cnp.PyArray_DATA(r)
    with nogil:
        csm_softmax_backward(dt, log, gp, yp, rp, nrows, n, nt)
    return deliver(from_class_rows(r, shape, ax, res), res, out)


def softmax_backward(grad, y, axis=-1, *, out=None):
    """Gradient through softmax: given ``y = softmax(x)`` and ``grad = dL/dy``, returns
    ``dL/dx = y * (grad - sum(grad * y, axis))``.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> y = csoftmax.softmax(np.array([0.0, 0.0]))
    >>> csoftmax.softmax_backward(np.array([1.0, 0.0]), y)
    array([ 0.25, -0.25])
    """
    return _backward(0, grad, y, axis, out)


def log_softmax_backward(grad, y, axis=-1, *, out=None):
    """Gradient through log_softmax: given ``y = log_softmax(x)`` and ``grad = dL/dy``, returns
    ``dL/dx = grad - exp(y) * sum(grad, axis)``.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> y = csoftmax.log_softmax(np.array([0.0, 0.0]))
    >>> csoftmax.log_softmax_backward(np.array([1.0, 0.0]), y)
    array([ 0.5, -0.5])
    """
    return _backward(1, grad, y, axis, out)


cdef object _sigmoid(int log, x, out):
    cdef cnp.ndarray a, flat, r
    cdef csm_dtype dt
    cdef Py_ssize_t n
    cdef void *xp
    cdef void *rp
    a, res = as_input(x)
    check_out(out, (<object>a).shape, res)
    flat = _c_aligned(a).reshape(-1)
    r = _empty_like_c(flat)
    dt, n = _dt(flat), cnp.PyArray_DIMS(flat)[0]
    xp, rp = cnp.PyArray_DATA(flat), cnp.PyArray_DATA(r)
    with nogil:
        csm_sigmoid(dt, log, xp, rp, n)
    return deliver(r.reshape((<object>a).shape), res, out)


def sigmoid(x, *, out=None):
    """Logistic function ``1 / (1 + exp(-x))``, elementwise, exact in both tails.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> csoftmax.sigmoid(np.array([0.0, -1000.0]))
    array([0.5, 0. ])
    """
    return _sigmoid(0, x, out)


def log_sigmoid(x, *, out=None):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, elementwise, exact in both tails.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> csoftmax.log_sigmoid(np.array([-1000.0, -1.0]))
    array([-1000.        ,    -1.31326169])
    """
    return _sigmoid(1, x, out)


def binary_cross_entropy(logits, target, *, weight=None, reduction="mean", return_grad=False):
    """Binary cross-entropy from logits (PyTorch's ``binary_cross_entropy_with_logits`` without
    ``pos_weight``): ``max(x, 0) - x t + log1p(exp(-|x|))``, finite for any finite logit.

    Infinite logits give the mathematical limit, where PyTorch gives NaN (its ``(1 - t) x`` is
    ``0 * inf`` there): a loss of 0 where the target matches (``x = +inf, t = 1`` or
    ``x = -inf, t = 0``), else ``+inf``; the gradient stays ``weight * (sigmoid(x) - t)``.

    Parameters
    ----------
    logits, target : array_like of the same shape
    weight : array_like, optional
        Elementwise weight, broadcastable to the logits' shape.
    reduction : {"mean", "sum", "none"}
    return_grad : bool
        Also return ``weight * (sigmoid(x) - t)`` (divided by the element count for "mean").

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> csoftmax.binary_cross_entropy(np.array([0.0, 1e4, -1e4]), np.array([1.0, 1.0, 1.0]),
    ...                               reduction="none")
    array([6.93147181e-01, 0.00000000e+00, 1.00000000e+04])
    >>> csoftmax.binary_cross_entropy(np.array([np.inf, -np.inf, np.inf]), np.array([1.0, 0.0, 0.5]),
    ...                               reduction="none")   # PyTorch: [nan, nan, nan]
    array([ 0.,  0., inf])
    """
    cdef cnp.ndarray xf, tf, wf = None, losses = None, grad = None
    cdef Py_ssize_t n
    cdef double gscale = 1.0, total
    cdef csm_dtype dt
    cdef const void *xp
    cdef const void *tp
    cdef const void *wp
    cdef void *lp
    cdef void *gp
    x, res, t, w, reduction = bce_inputs(logits, target, weight, reduction)
    shape = x.shape
    xf = _c_aligned(x).reshape(-1)
    tf = _c_aligned(t).reshape(-1)
    if w is not None:
        wf = _c_aligned(np.broadcast_to(w, shape)).reshape(-1)
    n = cnp.PyArray_DIMS(xf)[0]
    if reduction == "mean":
        gscale = 1.0 / n if n else float("nan")
    if reduction == "none":
        losses = _empty_like_c(xf)
    if return_grad:
        grad = _empty_like_c(xf)
    dt = _dt(xf)
    xp, tp = cnp.PyArray_DATA(xf), cnp.PyArray_DATA(tf)
    wp = cnp.PyArray_DATA(wf) if wf is not None else NULL
    lp = cnp.PyArray_DATA(losses) if losses is not None else NULL
    gp = cnp.PyArray_DATA(grad) if grad is not None else NULL
    with nogil:
        total = csm_binary_cross_entropy(dt, xp, tp, wp, n, gscale, lp, gp)
    if reduction == "none":
        loss = deliver(losses.reshape(shape), res)
    else:
        if reduction == "mean":
            total = total / n if n else float("nan")
        loss = res.type(total)
    if not return_grad:
        return loss
    grad = grad.reshape(shape)
    return loss, deliver(grad, res)
