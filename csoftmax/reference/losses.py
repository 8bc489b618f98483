"""Reference of the training functions: the losses, the backward passes and the sigmoid family.

These functions define the semantics that the fast C versions in
:mod:`csoftmax` must reproduce; they favour clarity and accuracy over speed.
The names are re-exported from :mod:`csoftmax.reference`.

Functions
---------
cross_entropy
    Softmax cross-entropy from logits, with PyTorch's
    ``torch.nn.functional.cross_entropy`` options (``weight``,
    ``ignore_index``, ``reduction``, ``label_smoothing``) and an optional
    analytic gradient.
nll_loss
    Negative log-likelihood of integer targets given log-probabilities.
softmax_backward, log_softmax_backward
    Vector-Jacobian products of softmax and log-softmax.
sigmoid, log_sigmoid
    Logistic function and its logarithm, exact in both tails.
binary_cross_entropy
    Binary cross-entropy from logits (PyTorch's
    ``binary_cross_entropy_with_logits`` without ``pos_weight``).

Conventions shared by all functions
-----------------------------------
dtypes
    As everywhere in csoftmax (:func:`csoftmax._validation.as_input`):
    float32 and float64 inputs are computed in their own precision; float16
    is computed in float32 and the result is returned as float16; integer
    and bool inputs are converted to float64. Complex, object, string,
    longdouble and other non-real inputs raise ``TypeError``. Class weights,
    soft targets and binary targets are converted to the logits' compute
    dtype.
Reductions
    Scalar results (``reduction="mean"`` or ``"sum"``) are NumPy scalars of
    the result dtype; the per-sample losses are summed in float64 before the
    final cast, so a float32 mean over millions of rows keeps about 1e-6
    relative accuracy. ``reduction="none"`` returns an array.
Gradients
    ``return_grad=True`` returns ``(loss, grad)`` where ``grad`` is the
    derivative of the returned loss (of ``loss.sum()`` for
    ``reduction="none"``) with respect to the logits, with the logits' shape
    and result dtype.
``out=``
    As in NumPy ufuncs, but strict: ``out`` must be an ndarray with exactly
    the result's shape (else ``ValueError``) and dtype (else ``TypeError``)
    and be writeable (else ``ValueError``). It may alias an input.
Special values
    No ``RuntimeWarning`` is emitted for documented special cases (infinite
    logits, tails of the sigmoid, empty or fully ignored batches). NaN inputs
    propagate to the affected outputs. A coefficient of exactly 0 times an
    infinite log-probability counts as 0, so a ``-inf`` logit only makes a
    loss infinite if the (smoothed, weighted) target puts mass on it.
Inputs are never modified.

Cross-entropy semantics (``C`` classes, ``N`` samples)
------------------------------------------------------
With ``logp = log_softmax(logits, axis)``, class weights ``w`` (all ones if
``weight`` is None) and smoothing ``eps``:

* Integer targets ``t`` (shape of ``logits`` without ``axis``)::

      loss_i = (1 - eps) * w[t_i] * -logp[i, t_i]
               + (eps / C) * sum_c w[c] * -logp[i, c]

  Samples with ``t_i == ignore_index`` have loss 0 and gradient 0.
  ``"mean"`` divides the sum by ``sum_i w[t_i]`` over non-ignored samples
  (the count of non-ignored samples when unweighted), for both terms.
* Floating targets ``q`` (class probabilities, shape of ``logits``)::

      q' = (1 - eps) * q + eps / C
      loss_i = sum_c w[c] * q'[i, c] * -logp[i, c]

  ``ignore_index`` is not used; as in PyTorch, a non-negative
  ``ignore_index`` (which could only be meant for index targets) raises
  ``ValueError``. ``"mean"`` divides the sum by ``N``
  (``logits.size // C``), regardless of the weights.

A sample (not ignored) whose logits contain NaN or +inf, or are all -inf, has no softmax: its
loss and its gradient row are NaN.

``"mean"`` returns NaN when the denominator is 0 (empty batch, all samples
ignored, zero total weight); ``"sum"`` returns 0 for an empty or fully
ignored batch. For a zero denominator the gradient of every non-ignored
sample is NaN (0 / 0), as in PyTorch.

The per-row log-sum-exp is evaluated as ``max + log1p(sum of the other
terms)`` (ties at the maximum count as other terms), so tiny losses keep
their relative accuracy: ``cross_entropy([[0., -37.]], [0])`` is
``8.533047625744066e-17`` rather than 0 (the last digit follows NumPy's exp:
NumPy 1.25's exp(-37.0) is one unit in the last place high, giving ...067).

Examples
--------
>>> import numpy as np
>>> from csoftmax.reference.losses import cross_entropy, sigmoid
>>> float(cross_entropy(np.array([[0.0, -37.0]]), np.array([0])))  # doctest: +ELLIPSIS
8.53304762574406...e-17
>>> float(cross_entropy(np.array([[1000.0, 0.0]]), np.array([1])))
1000.0
>>> float(sigmoid(-1000.0))
0.0
"""

import numpy as np

from .._loss_args import (backward_inputs, bce_inputs, cross_entropy_inputs, index_target,
                         nll_inputs)
from .._validation import as_input, check_out, class_rows, deliver, from_class_rows

__all__ = [
    "cross_entropy",
    "nll_loss",
    "softmax_backward",
    "log_softmax_backward",
    "sigmoid",
    "log_sigmoid",
    "binary_cross_entropy",
]


# --------------------------------------------------------------------------
# Helpers of the math (the argument checks are csoftmax._loss_args')
# --------------------------------------------------------------------------

def _mul0(coef, value):
    """``coef * value`` with ``0 * inf`` taken as 0 (a zero coefficient wins)."""
    return np.where(coef == 0, 0, coef * value).astype(value.dtype, copy=False)


def _reduce(losses, reduction, denom, result_dtype, batch_shape):
    """Apply the reduction; ``denom`` is the float64 divisor for "mean"."""
    if reduction == "none":
        return losses.reshape(batch_shape).astype(result_dtype)
    total = losses.sum(dtype=np.float64)
    if reduction == "sum":
        return result_dtype.type(total)
    return result_dtype.type(total / denom if denom != 0 else np.nan)


# --------------------------------------------------------------------------
# Row-wise log-softmax pieces
# --------------------------------------------------------------------------

class _RowStats:
    """Accurate per-row softmax quantities of ``rows`` (shape ``(N, C)``).

    ``lse = max + log1p(s)`` where ``s`` sums ``exp(x - max)`` over every
    entry but one occurrence of the maximum: keeping the 1 out of the sum is
    what preserves tiny losses such as ``log1p(exp(-37))``.
    """

    def __init__(self, rows):
        n = rows.shape[0]
        self.rows_index = np.arange(n)
        self.top = rows.argmax(axis=1)
        self.shifted = rows - rows.max(axis=1, keepdims=True)
        self.e = np.exp(self.shifted)
        others = self.e.copy()
        others[self.rows_index, self.top] = 0
        self.s = others.sum(axis=1)
        self.log1ps = np.log1p(self.s)
        self.total = 1 + self.s  # sum of exp(x - max) over the row

    def neg_logp(self):
        """``-log_softmax`` of every entry, ``(N, C)``."""
        return self.log1ps[:, None] - self.shifted

    def neg_logp_at(self, cols):
        """``-log_softmax`` at one column per row."""
        return self.log1ps - self.shifted[self.rows_index, cols]

    def softmax(self):
        return self.e / self.total[:, None]

    def one_minus_p_at(self, cols):
        """``1 - softmax`` at one column per row, without cancellation."""
        e_at = self.e[self.rows_index, cols]
        # If cols is the (first) maximum the others sum to s exactly;
        # otherwise e_at <= 1 <= total - e_at, so the subtraction is benign.
        rest = np.where(cols == self.top, self.s, self.total - e_at)
        return rest / self.total


# --------------------------------------------------------------------------
# Cross-entropy and NLL
# --------------------------------------------------------------------------

def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                  reduction="mean", label_smoothing=0.0, return_grad=False):
    """Softmax cross-entropy between logits and targets.

    Same semantics as PyTorch's ``torch.nn.functional.cross_entropy``, with
    an arbitrary class axis and an optional analytic gradient.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, at least 1-D. float16/32/64 (float16 computed
        in float32); integer or bool input is converted to float64.
    target : array_like
        Either integer class indices (any integer dtype) with the shape of
        ``logits`` without ``axis``, or floating class probabilities with
        exactly the shape of ``logits``.
    axis : int, optional
        The class axis of ``logits`` (default -1).
    weight : array_like, optional
        Per-class weights, 1-D of length ``C``.
    ignore_index : int, optional
        Index targets equal to this value contribute neither loss nor
        gradient and are excluded from the "mean" denominator (default
        -100). Unused for probability targets, for which it must be
        negative (as in PyTorch).
    reduction : {"mean", "sum", "none"}, optional
        "mean" divides the summed loss by the summed target weights of the
        non-ignored samples (index targets) or by the number of samples
        (probability targets). "none" returns the per-sample losses.
    label_smoothing : float, optional
        ``eps`` in [0, 1]: the target becomes
        ``(1 - eps) * target + eps / C`` (see the module docstring for the
        exact weighted formulas).
    return_grad : bool, optional
        Also return the gradient of the loss (of its sum for "none").

    Returns
    -------
    loss : numpy scalar or ndarray
        Scalar of the result dtype for "mean"/"sum"; for "none" an array
        with the shape of ``logits`` without ``axis`` (ignored samples: 0).
    grad : ndarray
        Only if ``return_grad``: same shape and dtype as the (float)
        logits. Ignored samples get 0. For index targets without smoothing
        it is ``w[t] * (softmax(logits) - onehot(t)) / denom``.

    Raises
    ------
    TypeError
        Bool, complex or object targets; non-real logits or weights.
    ValueError
        Bad shapes, unknown ``reduction``, ``label_smoothing`` outside
        [0, 1], 0-d logits, an empty class axis, or a non-negative
        ``ignore_index`` with probability targets.
    IndexError
        An index target outside ``[0, C)`` that is not ``ignore_index``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> round(float(cross_entropy(x, [0, 1])), 6)  # mean of two samples
    0.669079
    >>> cross_entropy(x, [0, -100], reduction="none").round(6)
    array([0.239545, 0.      ])
    >>> loss, grad = cross_entropy(x, [0, 1], reduction="sum",
    ...                            return_grad=True)
    >>> grad.sum(axis=1).round(12)  # rows of softmax - onehot sum to 0
    array([0., 0.])
    >>> q = np.array([[0.5, 0.5, 0.0], [1/3, 1/3, 1/3]])
    >>> round(float(cross_entropy(x, q, label_smoothing=0.1)), 6)
    1.185745
    """
    x, res_dtype, ax, n_classes, batch_shape, reduction, eps, w, ignore_index, t, probability = (
        cross_entropy_inputs(logits, target, axis, weight, ignore_index, reduction,
                             label_smoothing))
    if probability:
        prob = class_rows(t.astype(x.dtype, copy=False), ax)
    else:
        t, keep = index_target(t, batch_shape, n_classes, ignore_index)
        prob = None

    rows = class_rows(x, ax)
    with np.errstate(all="ignore"):
        st = _RowStats(rows)
        if prob is None:
            losses, grad, denom = _ce_index(st, t, keep, w, eps, n_classes,
                                            return_grad)
        else:
            losses, grad, denom = _ce_prob(st, prob, w, eps, n_classes,
                                           return_grad)
        # A row with NaN or +inf, or with no finite logit, has no softmax: its loss and
        # gradient are NaN (as softmax of that row is), whatever the target.
        bad = _no_softmax(rows) & (keep if prob is None else True)
        losses = np.where(bad, np.nan, losses).astype(losses.dtype, copy=False)
        if grad is not None:
            grad[bad] = np.nan
        loss = _reduce(losses, reduction, denom, res_dtype, batch_shape)
        if not return_grad:
            return loss
        if reduction == "mean":
            grad = grad / float(denom)  # 0 / 0 -> NaN like the loss
            if prob is None:
                grad[~keep] = 0
    return loss, from_class_rows(grad, x.shape, ax, res_dtype)


def _no_softmax(rows):
    """Rows of ``(N, C)`` containing NaN or +inf, or only -inf."""
    top = rows.max(axis=1) if rows.shape[1] else np.full(rows.shape[0], -np.inf)
    return ~np.isfinite(top)  # NaN propagates through max


def _ce_index(st, t, keep, w, eps, n_classes, want_grad):
    """Per-sample losses, gradient rows and "mean" divisor for index targets."""
    tt = np.where(keep, t, 0)  # any valid column for ignored rows
    dtype = st.shifted.dtype
    wt = w[tt] if w is not None else np.ones(tt.shape, dtype)
    wt = np.where(keep, wt, 0).astype(dtype, copy=False)
    losses = _mul0((1 - eps) * wt, st.neg_logp_at(tt))   # eps = 1: 0 * inf is 0
    if eps > 0:
        wc = w if w is not None else np.ones(n_classes, dtype)
        smooth = _mul0(wc[None, :], st.neg_logp()).sum(axis=1)
        losses = losses + (eps / n_classes) * smooth
    losses = np.where(keep, losses, 0).astype(dtype, copy=False)
    denom = wt.sum(dtype=np.float64) if w is not None else float(keep.sum())

    grad = None
    if want_grad:
        coef = (1 - eps) * wt
        grad = coef[:, None] * st.softmax()
        # The target entry is coef * (p_t - 1); take 1 - p_t exactly.
        grad[st.rows_index, tt] = -coef * st.one_minus_p_at(tt)
        if eps > 0:
            w_total = wc.sum() if w is not None else n_classes
            grad += (eps / n_classes) * (w_total * st.softmax() - wc[None, :])
        grad[~keep] = 0
    return losses, grad, denom


def _ce_prob(st, prob, w, eps, n_classes, want_grad):
    """Per-sample losses, gradient rows and "mean" divisor for soft targets."""
    coef = prob
    if eps > 0:
        coef = (1 - eps) * coef + eps / n_classes
    if w is not None:
        coef = coef * w[None, :]
    losses = _mul0(coef, st.neg_logp()).sum(axis=1)
    grad = None
    if want_grad:
        grad = coef.sum(axis=1)[:, None] * st.softmax() - coef
    return losses, grad, float(st.shifted.shape[0])


def nll_loss(log_probs, target, *, axis=-1, weight=None, ignore_index=-100,
             reduction="mean"):
    """Negative log-likelihood loss of integer class indices.

    ``loss_i = -weight[t_i] * log_probs[i, t_i]``, with PyTorch's
    ``torch.nn.functional.nll_loss`` semantics, so that
    ``nll_loss(log_softmax(x), t)`` equals ``cross_entropy(x, t)``.

    Parameters
    ----------
    log_probs : array_like
        Log-probabilities, at least 1-D (same dtype rules as
        :func:`cross_entropy`).
    target : array_like of int
        Class indices with the shape of ``log_probs`` without ``axis``.
    axis : int, optional
        The class axis (default -1).
    weight : array_like, optional
        Per-class weights, 1-D of length ``C``.
    ignore_index : int, optional
        Targets equal to this value contribute 0 and are excluded from the
        "mean" denominator (default -100).
    reduction : {"mean", "sum", "none"}, optional
        "mean" divides by the summed target weights of the non-ignored
        samples (NaN if that is 0).

    Returns
    -------
    numpy scalar or ndarray
        As for :func:`cross_entropy`.

    Raises
    ------
    TypeError
        Non-integer targets (use :func:`cross_entropy` for probabilities).
    ValueError, IndexError
        As for :func:`cross_entropy`.

    Examples
    --------
    >>> import numpy as np
    >>> lp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
    >>> round(float(nll_loss(lp, [0, 1], reduction="sum")), 6)
    0.916291
    >>> nll_loss(lp, [0, 1], weight=[2.0, 1.0, 1.0], reduction="none").round(6)
    array([1.386294, 0.223144])
    """
    lp, res_dtype, ax, n_classes, reduction, w, ignore_index, t, keep = nll_inputs(
        log_probs, target, axis, weight, ignore_index, reduction)
    batch_shape = lp.shape[:ax] + lp.shape[ax + 1:]
    rows = class_rows(lp, ax)
    tt = np.where(keep, t, 0)
    wt = w[tt] if w is not None else np.ones(tt.shape, lp.dtype)
    wt = np.where(keep, wt, 0).astype(lp.dtype, copy=False)
    with np.errstate(all="ignore"):
        losses = -_mul0(wt, rows[np.arange(rows.shape[0]), tt])
        losses = np.where(keep, losses, 0).astype(lp.dtype, copy=False)
        denom = wt.sum(dtype=np.float64) if w is not None else float(keep.sum())
        return _reduce(losses, reduction, denom, res_dtype, batch_shape)


# --------------------------------------------------------------------------
# Backward passes of softmax and log-softmax
# --------------------------------------------------------------------------

def softmax_backward(grad, y, axis=-1, *, out=None):
    """Gradient of a loss with respect to the input of softmax.

    Given ``y = softmax(x, axis)`` and ``grad = dL/dy``, returns
    ``dL/dx = y * (grad - sum(grad * y, axis, keepdims=True))``.

    Parameters
    ----------
    grad : array_like
        Upstream gradient ``dL/dy``.
    y : array_like
        The softmax output, same shape as ``grad``.
    axis : int, optional
        The axis softmax was taken over (default -1).
    out : ndarray, optional
        Destination with exactly the result's shape and dtype; may alias
        ``grad`` or ``y``.

    Returns
    -------
    ndarray
        ``dL/dx``; dtype is the common float dtype of the inputs (float16
        pairs are computed in float32 and returned as float16, integers
        become float64).

    Raises
    ------
    ValueError
        ``grad`` and ``y`` differ in shape, or a bad ``out`` shape.
    TypeError
        Non-real inputs, or ``out`` of the wrong type or dtype.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0.25, 0.25, 0.5])
    >>> softmax_backward(np.array([1.0, 0.0, 0.0]), y)
    array([ 0.1875, -0.0625, -0.125 ])
    """
    g, yy, ax, res = backward_inputs(grad, y, axis, out)
    with np.errstate(all="ignore"):
        dx = yy * (g - (g * yy).sum(axis=ax, keepdims=True))
    return deliver(dx, res, out)


def log_softmax_backward(grad, y, axis=-1, *, out=None):
    """Gradient of a loss with respect to the input of log-softmax.

    Given ``y = log_softmax(x, axis)`` and ``grad = dL/dy``, returns
    ``dL/dx = grad - exp(y) * sum(grad, axis, keepdims=True)``.

    Parameters
    ----------
    grad : array_like
        Upstream gradient ``dL/dy``.
    y : array_like
        The log-softmax output, same shape as ``grad``; ``-inf`` entries
        (probability 0) are fine.
    axis : int, optional
        The axis log-softmax was taken over (default -1).
    out : ndarray, optional
        Destination with exactly the result's shape and dtype; may alias
        ``grad`` or ``y``.

    Returns
    -------
    ndarray
        ``dL/dx`` with the dtype rules of :func:`softmax_backward`.

    Raises
    ------
    ValueError, TypeError
        As for :func:`softmax_backward`.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.log(np.array([0.25, 0.25, 0.5]))
    >>> log_softmax_backward(np.array([-1.0, 0.0, 0.0]), y)  # d(-y[0])/dx
    array([-0.75,  0.25,  0.5 ])
    """
    g, yy, ax, res = backward_inputs(grad, y, axis, out)
    with np.errstate(all="ignore"):
        dx = g - np.exp(yy) * g.sum(axis=ax, keepdims=True)
    return deliver(dx, res, out)


# --------------------------------------------------------------------------
# Sigmoid family
# --------------------------------------------------------------------------

def _sigmoid_work(x):
    """Sigmoid in the working dtype; ``exp(-|x|)`` never overflows."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype,
                                                            copy=False)


def sigmoid(x, *, out=None):
    """Logistic function ``1 / (1 + exp(-x))``, elementwise.

    Evaluated as ``1 / (1 + exp(-x))`` for ``x >= 0`` and
    ``exp(x) / (1 + exp(x))`` for ``x < 0``, so both tails are accurate
    (``sigmoid(-40)`` is about ``4.25e-18``, not 0) and no overflow warning
    is raised. NaN stays NaN.

    Parameters
    ----------
    x : array_like
        Real input (float16 computed in float32; integers become float64).
    out : ndarray, optional
        Destination with exactly ``x``'s shape and the result dtype; may
        alias ``x``.

    Returns
    -------
    ndarray or numpy scalar
        ``sigmoid(x)``; a 0-d input gives a 0-d array.

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    a, res = as_input(x)
    check_out(out, a.shape, res)
    with np.errstate(all="ignore"):
        r = _sigmoid_work(a)
    return deliver(r, res, out)


def log_sigmoid(x, *, out=None):
    """Logarithm of the logistic function, elementwise.

    Evaluated as ``-log1p(exp(-x))`` for ``x >= 0`` and
    ``x - log1p(exp(x))`` for ``x < 0``: exact in both tails
    (``log_sigmoid(-1000) == -1000``, ``log_sigmoid(40)`` is about
    ``-4.25e-18``). NaN stays NaN.

    Parameters
    ----------
    x : array_like
        Real input (float16 computed in float32; integers become float64).
    out : ndarray, optional
        Destination with exactly ``x``'s shape and the result dtype; may
        alias ``x``.

    Returns
    -------
    ndarray
        ``log(sigmoid(x))``.

    Examples
    --------
    >>> import numpy as np
    >>> log_sigmoid(np.array([-1000.0, -1.0]))
    array([-1000.        ,    -1.31326169])
    """
    a, res = as_input(x)
    check_out(out, a.shape, res)
    with np.errstate(all="ignore"):
        r = np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))
    return deliver(r, res, out)


def binary_cross_entropy(logits, target, *, weight=None, reduction="mean",
                         return_grad=False):
    """Binary cross-entropy computed from logits.

    Same semantics as PyTorch's
    ``torch.nn.functional.binary_cross_entropy_with_logits`` (without
    ``pos_weight``)::

        loss = max(x, 0) - x * t + log1p(exp(-|x|))

    evaluated as ``x * (1 - t)`` (``x >= 0``) or ``-x * t`` (``x < 0``) plus
    the ``log1p`` term, which is finite and accurate for ``|x|`` up to
    1e4 and beyond. Infinite logits give the limit (0 when ``t`` matches,
    ``+inf`` otherwise), where PyTorch gives NaN; a zero coefficient times
    an infinity counts as 0.

    Parameters
    ----------
    logits : array_like
        Real logits of any shape (0-d allowed); dtype rules as for
        :func:`cross_entropy`.
    target : array_like
        Real targets (usually in [0, 1]) with exactly the shape of
        ``logits``; converted to the working dtype (bool and integers
        allowed).
    weight : array_like, optional
        Elementwise weight, broadcastable to the shape of ``logits``.
    reduction : {"mean", "sum", "none"}, optional
        "mean" averages over all elements (NaN if there are none).
    return_grad : bool, optional
        Also return ``d loss / d logits = weight * (sigmoid(x) - t)``,
        divided by ``logits.size`` for "mean".

    Returns
    -------
    loss : numpy scalar or ndarray
        Scalar for "mean"/"sum", array of the logits' shape for "none".
    grad : ndarray
        Only if ``return_grad``; the logits' shape and result dtype.

    Raises
    ------
    ValueError
        Target shape differs from the logits', ``weight`` not
        broadcastable, unknown ``reduction``.
    TypeError
        Non-real inputs.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1e4, -1e4])
    >>> binary_cross_entropy(x, [1.0, 1.0, 1.0], reduction="none")
    array([6.93147181e-01, 0.00000000e+00, 1.00000000e+04])
    >>> loss, g = binary_cross_entropy(x, [0.0, 1.0, 0.0], reduction="sum",
    ...                                return_grad=True)
    >>> g
    array([0.5, 0. , 0. ])
    """
    x, res, t, w, reduction = bce_inputs(logits, target, weight, reduction)
    with np.errstate(all="ignore"):
        z = np.exp(-np.abs(x))
        pos = x >= 0
        # x*(1 - t) instead of x - x*t: no cancellation for t near 1.
        lin = np.where(pos, _mul0(1 - t, x), _mul0(t, -x))
        losses = (lin + np.log1p(z)).astype(x.dtype, copy=False)
        if w is not None:
            losses = _mul0(w, losses)
        denom = float(x.size)
        loss = _reduce(losses, reduction, denom, res, x.shape)
        if not return_grad:
            return loss
        # sigmoid(x) - t, written so the x >= 0 branch has no 1 - 1 step.
        s_neg = z / (1 + z)  # sigmoid(-|x|)
        grad = np.where(pos, (1 - t) - s_neg, s_neg - t)
        if w is not None:
            grad = w * grad
        if reduction == "mean":
            grad = grad / denom
    return loss, np.ascontiguousarray(np.broadcast_to(grad, x.shape),
                                      dtype=res)
