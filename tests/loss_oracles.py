"""Independent float64 oracles and a finite-difference helper for loss tests.

The oracles are written straight from PyTorch's documented formulas, with
SciPy's ``log_softmax``, and share no code with the implementations under
test.
"""

import contextlib
import warnings

import numpy as np
from scipy.special import log_softmax


def cross_entropy_oracle(logits, target, *, axis=-1, weight=None,
                         ignore_index=-100, reduction="mean",
                         label_smoothing=0.0):
    """Textbook cross-entropy (float64) following ``torch.nn.functional``.

    Index targets: ``(1 - eps) * w[t] * -logp[t] + eps / C * sum_c w[c] *
    -logp[c]``, mean over ``sum w[t]`` of non-ignored samples. Probability
    targets: ``-sum_c w[c] * ((1 - eps) q[c] + eps / C) * logp[c]``, mean
    over the number of samples.
    """
    x = np.asarray(logits, dtype=np.float64)
    lp = np.moveaxis(log_softmax(x, axis=axis), axis, -1)
    n_classes = lp.shape[-1]
    w = np.ones(n_classes) if weight is None else np.asarray(weight, float)
    eps = label_smoothing
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        keep = t != ignore_index
        tt = np.where(keep, t, 0)
        nll = -np.take_along_axis(lp, tt[..., None], axis=-1)[..., 0] * w[tt]
        smooth = -(lp * w).sum(axis=-1)
        per = np.where(keep, (1 - eps) * nll + eps / n_classes * smooth, 0.0)
        denom = (w[tt] * keep).sum()
    else:
        q = np.moveaxis(t.astype(np.float64), axis, -1)
        q = (1 - eps) * q + eps / n_classes
        per = -(lp * w * q).sum(axis=-1)
        denom = per.size
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / denom if denom != 0 else np.nan


def binary_cross_entropy_oracle(logits, target, weight=None,
                                reduction="mean"):
    """Textbook BCE from logits, float64, for moderate logits."""
    x = np.asarray(logits, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    per = -(t * np.log(1 / (1 + np.exp(-x)))
            + (1 - t) * np.log(1 / (1 + np.exp(x))))
    if weight is not None:
        per = per * weight
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" else per.mean()


def numeric_grad(f, x, h=1e-3):
    """Fourth-order central difference of scalar ``f`` at float64 ``x``.

    Truncation error is O(h**4) (~1e-12 for smooth losses at h = 1e-3),
    rounding error ~1e-16 * |f| / h.
    """
    x = np.array(x, dtype=np.float64)
    g = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        def at(step):
            xs = x.copy()
            xs[idx] += step
            return float(f(xs))
        g[idx] = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)
    return g


def max_rel_diff(a, b):
    """Largest ``|a - b| / max(|b|, tiny)`` (0 where both are equal)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(all="ignore"):
        rel = np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)
    return float(np.max(np.where(same, 0.0, rel)))


@contextlib.contextmanager
def no_warnings():
    """Turn every warning (e.g. a RuntimeWarning from NumPy) into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
