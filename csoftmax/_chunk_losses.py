"""Cross-entropy over rows whose classes are split into chunks: one chunk's share of each row's
loss and its part of the gradient, given the whole rows' statistics (see csoftmax._stats).

The formulas are csm_losses.h's (index targets t, class weights wc, W = sum(wc), smoothing eps,
L = log1p(excess) = log(sum(exp(x - max)))):

    loss = (1-eps) wt (L - (x_t - max)) + eps/C (W L - sum_c wc_c (x_c - max))
    grad = gscale ((1-eps) wt (p - onehot_t) + eps/C (W p - wc))

Each chunk gives the sum over its classes (the target's term in the chunk that holds it, eps/C W L
in the chunk holding class 0), so the row's loss is the sum over the chunks. The gradient's bulk is one pass
of the kernel (softmax_from_stats times a per-row factor, minus eps/C wc); the target's entry uses
1 - p_t = excess / S when x_t is the max, without cancellation, as csm_losses.h does. The O(rows)
parts are NumPy.
"""
import numpy as np

from ._core import _scaled_softmax_from_stats
from ._loss_args import (check_class_weight, check_smoothing, raise_bad_target,
                         target_is_probability)
from ._validation import as_input, as_real, deliver, work_dtype

__all__ = ["cross_entropy_from_stats"]

_QUIET = dict(over="ignore", under="ignore", invalid="ignore", divide="ignore")


def _weighted_shift_sum(x, m, wc):
    """sum_c wc_c (x_c - max) per row, a zero weight counting 0 even against -inf"""
    d = x.astype(np.float64) - m[:, None]
    if wc is not None:
        d = np.where(wc == 0, 0.0, wc * d)
    return d.sum(axis=1)


def _prob_chunk(x, q, m, e, L, special, class_offset, C, wc, eps, grad_scale, prob_total,
                return_grad):
    """Probability targets: coef = ((1-eps) q + eps/C) wc (in the compute dtype, as csm_losses.h),
    loss = sum(coef) L - sum_c coef_c (x_c - max), grad = gscale (sum(coef) p - coef)"""
    n = x.shape[1]
    coef = (x.dtype.type(1 - eps) * q + x.dtype.type(eps / C)) * (1 if wc is None else wc)
    total = (coef.sum(axis=1, dtype=np.float64) if prob_total is None
             else np.asarray(prob_total, dtype=np.float64).reshape(len(x)))
    with np.errstate(**_QUIET):
        loss = -_weighted_shift_sum(x, m, coef)
        if class_offset == 0 and n > 0:   # the chunk holding class 0 adds it, once
            loss += total * L
        loss[special] = np.nan
        if not return_grad:
            return loss, None
        g = _scaled_softmax_from_stats(x, (m, e), grad_scale * total)
        g -= (grad_scale * coef).astype(g.dtype)
        g[special] = np.nan
    return loss, g


def cross_entropy_from_stats(logits, target, stats, *, class_offset=0, num_classes=None,
                             weight=None, ignore_index=-100, label_smoothing=0.0, grad_scale=1.0,
                             return_grad=False, prob_total=None):
    """One chunk of the classes' share of a softmax cross-entropy, given the whole rows'
    statistics.

    Parameters
    ----------
    logits : array_like, shape (N, n)
        Classes ``class_offset`` to ``class_offset + n`` of N rows.
    target : array_like of int, shape (N,), or of float, shape (N, n)
        Class indices in ``[0, num_classes)``, or `ignore_index`; or the chunk's columns of
        class probabilities.
    stats : SoftmaxStats
        The whole rows' statistics (:func:`combine_softmax_stats` of every chunk's), shape (N,).
    class_offset : int
        The chunk's first class.
    num_classes : int, optional
        C, the rows' full length (default: `class_offset` + n).
    weight : array_like, optional
        All C class weights.
    ignore_index, label_smoothing
        As :func:`csoftmax.cross_entropy`.
    grad_scale : float
        The gradient's factor: 1 for a sum, 1 / (the mean's denominator) for a mean.
    return_grad : bool
    prob_total : array_like, shape (N,), optional
        Probability targets only: each whole row's ``sum(((1 - eps) q + eps / C) * weight)``
        (default: this chunk's, as if it were the whole row).

    Returns
    -------
    loss : ndarray of float64, shape (N,)
        The chunk's share of each row's loss (the row's loss is the sum over its chunks; 0 for
        ignored rows, NaN for rows whose softmax is NaN).
    grad : ndarray, shape (N, n), only with ``return_grad``
        The chunk's columns of the gradient (times `grad_scale`).

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> x = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> stats = csoftmax.softmax_stats(x)
    >>> a = csoftmax.cross_entropy_from_stats(x[:, :1], [0, 1], stats, num_classes=3)
    >>> b = csoftmax.cross_entropy_from_stats(x[:, 1:], [0, 1], stats, class_offset=1)
    >>> np.allclose(a + b, csoftmax.cross_entropy(x, [0, 1], reduction="none"))
    True
    """
    x, res = as_input(logits)
    if x.ndim != 2:
        raise ValueError(f"csoftmax: logits must be (rows, classes of the chunk), got {x.shape}")
    nrows, n = x.shape
    C = class_offset + n if num_classes is None else int(num_classes)
    eps = check_smoothing(label_smoothing)
    w = check_class_weight(weight, C, work_dtype(res))
    m = np.asarray(stats[0], dtype=np.float64).reshape(nrows)
    e = np.asarray(stats[1], dtype=np.float64).reshape(nrows)
    tgt = np.asarray(target)
    if target_is_probability(tgt.dtype):
        with np.errstate(**_QUIET):
            L = np.log1p(e)
        special = ~np.isfinite(m) | np.isnan(e)
        wcp = None if w is None else w[class_offset:class_offset + n]
        loss, g = _prob_chunk(x, as_real(tgt, x.dtype).reshape(nrows, n), m, e, L, special,
                              class_offset, C, wcp, eps, grad_scale, prob_total, return_grad)
        return (loss, deliver(g, res)) if return_grad else loss
    t = tgt.reshape(nrows).astype(np.int64)
    ignored = t == ignore_index
    bad = ~ignored & ((t < 0) | (t >= C))
    if bad.any():
        raise_bad_target(int(t[np.argmax(bad)]), C, ignore_index)
    W = float(w.sum(dtype=np.float64)) if w is not None else float(C)
    wc = w[class_offset:class_offset + n] if w is not None else None
    sm = eps / C
    ts = np.where(ignored, 0, t)
    wt = w[ts].astype(np.float64) if w is not None else np.ones(nrows)
    a = np.where(ignored, 0.0, (1 - eps) * wt)
    local = ts - class_offset
    here = np.flatnonzero(~ignored & (local >= 0) & (local < n))
    xt = x[here, local[here]].astype(np.float64)
    with np.errstate(**_QUIET):
        L = np.log1p(e)
        loss = np.zeros(nrows)
        loss[here] = np.where(a[here] == 0, 0.0, a[here] * (L[here] - (xt - m[here])))
        if eps > 0:
            loss -= sm * _weighted_shift_sum(x, m, wc)
            if class_offset == 0 and n > 0:   # the chunk holding class 0 adds it, once
                loss += sm * W * L
        special = ~np.isfinite(m) | np.isnan(e)
        loss[special] = np.nan
        loss[ignored] = 0.0
        if not return_grad:
            return loss
        scale = np.where(ignored, 0.0, grad_scale * (a + sm * W))
        bias = np.where(ignored, 0.0, grad_scale * sm) if eps > 0 else None
        g = _scaled_softmax_from_stats(x, (m, e), scale, bias, wc)
        S = 1 + e[here]
        at_max = xt == m[here]
        p_t = np.where(at_max, 1 / S, np.exp(xt - m[here]) / S)
        q_t = np.where(at_max, e[here] / S, 1 - p_t)   # 1 - p_t without cancellation
        g_t = grad_scale * (-a[here] * q_t + sm * (W * p_t - wt[here]))
        g[here, local[here]] = np.where(special[here], np.nan, g_t)
        g[ignored] = 0
    return loss, deliver(g, res)   # float16 logits: computed in float32, returned as float16
