"""Argument rules of the training functions (cross_entropy, nll_loss, the backward passes,
binary_cross_entropy), with every error message, shared by the reference, the fast module,
:mod:`csoftmax.dask` and :func:`csoftmax.cross_entropy_from_stats` so they raise the same errors.

:func:`cross_entropy_inputs` is to cross-entropy what :func:`csoftmax._fused_args.fused_inputs`
is to softmax: it checks the whole call before any work is done and returns what every
implementation needs. Integer targets' bounds are left to each implementation (the reference
checks them in NumPy, the fast module in C, Dask when the graph is computed).

Examples
--------
>>> import numpy as np
>>> a = cross_entropy_inputs(np.zeros((2, 3), np.float16), [0, 2], -1, None, -100, "mean", 0.1)
>>> a.x.dtype, a.result, a.axis, a.classes, a.batch_shape, a.smoothing, a.probability
(dtype('float32'), dtype('float16'), 1, 3, (2,), 0.1, False)
>>> cross_entropy_inputs(np.zeros((2, 3)), [0, 1, 2], -1, None, -100, "mean", 0.0)
Traceback (most recent call last):
    ...
ValueError: csoftmax: integer target must have the shape of logits without the class axis, (2,), got (3,)
"""
import operator
from typing import NamedTuple, Optional

import numpy as np

from ._validation import _dtypes_for, as_input, as_real, check_out, class_axis, work_dtype

__all__ = ["CrossEntropyArgs", "cross_entropy_inputs", "nll_inputs", "check_reduction",
           "check_smoothing", "check_class_weight", "check_classes", "target_is_probability",
           "check_probability_target", "check_index_target_shape", "index_target_array",
           "index_target", "raise_bad_target", "backward_inputs", "bce_inputs"]

_REDUCTIONS = ("mean", "sum", "none")


class CrossEntropyArgs(NamedTuple):
    x: object                    # the logits in their compute dtype (a Dask array: as given)
    result: np.dtype             # the dtype of the loss and the gradient
    axis: int                    # the class axis, non-negative
    classes: int                 # C, at least 1
    batch_shape: tuple           # the logits' shape without the class axis
    reduction: str               # "mean", "sum" or "none"
    smoothing: float             # in [0, 1]
    weight: Optional[np.ndarray]  # C class weights in the compute dtype
    ignore_index: int
    target: object               # an ndarray (a Dask array: as given), its shape checked
    probability: bool            # floating class probabilities (else integer class indices)


def cross_entropy_inputs(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                         *, lazy=False):
    """Every argument of a cross-entropy call checked, in a fixed order (so each implementation
    raises the same error for the same call); see :class:`CrossEntropyArgs`.

    With ``lazy=True`` (:mod:`csoftmax.dask`) `logits` and `target` are taken as they are and
    only their shapes and dtypes are read.
    """
    if lazy:
        x, result, t = logits, _dtypes_for(logits.dtype)[1], target
    else:
        (x, result), t = as_input(logits), np.asarray(target)
    ax, C, reduction, eps, w, ignore_index = _class_call(
        x, "logits", axis, reduction, label_smoothing, weight, ignore_index, work_dtype(result))
    batch_shape = x.shape[:ax] + x.shape[ax + 1:]
    probability = target_is_probability(t.dtype)
    if probability:
        check_probability_target(t, x.shape, ignore_index)
    else:
        check_index_target_shape(t, batch_shape)
    return CrossEntropyArgs(x, result, ax, C, batch_shape, reduction, eps, w, ignore_index, t,
                            probability)


def nll_inputs(log_probs, target, axis, weight, ignore_index, reduction):
    """``(log_probs, result dtype, axis, C, reduction, weight, ignore_index, flat int64 targets,
    keep)`` of nll_loss, after the checks (the targets' bounds too: see :func:`index_target`)."""
    lp, result = as_input(log_probs)
    ax, C, reduction, _, w, ignore_index = _class_call(
        lp, "log_probs", axis, reduction, 0.0, weight, ignore_index, lp.dtype)
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"csoftmax: nll_loss needs integer class indices, got dtype "
                        f"{t.dtype} (use cross_entropy for probabilities)")
    t, keep = index_target(t, lp.shape[:ax] + lp.shape[ax + 1:], C, ignore_index)
    return lp, result, ax, C, reduction, w, ignore_index, t, keep


def _class_call(x, name, axis, reduction, label_smoothing, weight, ignore_index, compute):
    """The options every loss over a class axis shares, checked in this order."""
    ax = class_axis(axis, x.ndim, name)
    C = check_classes(x.shape[ax], name)
    reduction = check_reduction(reduction)
    eps = check_smoothing(label_smoothing)
    w = check_class_weight(weight, C, compute)
    return ax, C, reduction, eps, w, operator.index(ignore_index)


def check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"csoftmax: reduction must be one of {_REDUCTIONS}, "
                         f"got {reduction!r}")
    return reduction


def check_smoothing(label_smoothing):
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:  # also rejects NaN
        raise ValueError(f"csoftmax: label_smoothing must be in [0, 1], "
                         f"got {label_smoothing!r}")
    return eps


def check_class_weight(weight, n_classes, dtype):
    if weight is None:
        return None
    w = as_real(weight, dtype)
    if w.shape != (n_classes,):
        raise ValueError(f"csoftmax: weight must be 1-D with one entry per class "
                         f"({n_classes}), got shape {w.shape}")
    return w


def check_classes(n_classes, name):
    if n_classes == 0:
        raise ValueError(f"csoftmax: {name} must have at least one class")
    return n_classes


def target_is_probability(dtype):
    """True for floating class probabilities, False for integer class indices (by `dtype`)."""
    if dtype.kind == "b":
        raise TypeError("csoftmax: bool target is ambiguous: pass integer class "
                        "indices or floating class probabilities")
    if dtype.kind in ("i", "u"):
        return False
    if dtype.kind == "f":
        return True
    raise TypeError(f"csoftmax: target must be integer class indices or floating "
                    f"probabilities, got dtype {dtype}")


def check_probability_target(t, shape, ignore_index):
    if t.shape != shape:
        raise ValueError(f"csoftmax: probability target must have the shape of "
                         f"logits {shape}, got {t.shape}")
    if ignore_index >= 0:  # as PyTorch: it could only be a mistake
        raise ValueError(f"csoftmax: ignore_index={ignore_index} is not supported "
                         f"for probability targets (use a negative value)")
    return t


def check_index_target_shape(t, batch_shape):
    if tuple(t.shape) != batch_shape:
        raise ValueError(f"csoftmax: integer target must have the shape of logits "
                         f"without the class axis, {batch_shape}, got {tuple(t.shape)}")
    return t


def index_target_array(target, batch_shape, n_classes):
    """Integer class indices as a flat int64 array, after the shape check (the bounds are
    checked by :func:`index_target`, or by the C kernel in the fast module)."""
    t = check_index_target_shape(np.asarray(target), batch_shape).reshape(-1)
    big = np.iinfo(np.int64).max
    # uint64 values above int64 max would wrap when converted.
    if t.dtype.kind == "u" and t.size and t.max() > big:
        raise IndexError(f"csoftmax: target {int(t.max())} is out of bounds for "
                         f"{n_classes} classes")
    return t.astype(np.int64, copy=False)


def index_target(target, batch_shape, n_classes, ignore_index):
    """Validate integer class indices; return ``(flat int64 targets, keep)``.

    ``keep`` marks the samples that are not ``ignore_index``.
    """
    t = index_target_array(target, batch_shape, n_classes)
    big = np.iinfo(np.int64).max
    if np.iinfo(np.int64).min <= ignore_index <= big:
        keep = t != ignore_index
    else:
        keep = np.ones(t.shape, dtype=bool)
    bad = keep & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise_bad_target(int(t[np.argmax(bad)]), n_classes, ignore_index)
    return t, keep


def raise_bad_target(value, n_classes, ignore_index):
    raise IndexError(f"csoftmax: target {value} is out of bounds for {n_classes} "
                     f"classes (and is not ignore_index={ignore_index})")


def backward_inputs(grad, y, axis, out):
    """``(grad, y, axis, result dtype)`` of softmax_backward / log_softmax_backward, both in
    the working dtype, after the checks (including `out`'s)."""
    g, g_res = as_input(grad)
    yy, y_res = as_input(y)
    res = np.result_type(g_res, y_res)
    if g.shape != yy.shape:
        raise ValueError(f"csoftmax: grad and y must have the same shape, got "
                         f"{g.shape} and {yy.shape}")
    ax = class_axis(axis, g.ndim, "y")
    check_out(out, g.shape, res)
    work = work_dtype(res)
    return g.astype(work, copy=False), yy.astype(work, copy=False), ax, res


def bce_inputs(logits, target, weight, reduction):
    """``(logits, result dtype, target, weight or None, reduction)`` of binary_cross_entropy,
    the arrays in the working dtype, after the checks."""
    x, res = as_input(logits)
    t = as_real(target, x.dtype)
    if t.shape != x.shape:
        raise ValueError(f"csoftmax: target must have the shape of logits {x.shape}, "
                         f"got {t.shape}")
    w = None
    if weight is not None:
        w = as_real(weight, x.dtype)
        try:
            shape = np.broadcast_shapes(w.shape, x.shape)
        except ValueError:
            shape = None
        if shape != x.shape:
            raise ValueError(f"csoftmax: weight of shape {w.shape} does not broadcast "
                             f"to the logits' shape {x.shape}")
    return x, res, t, w, check_reduction(reduction)
