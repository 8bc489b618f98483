"""Arguments of the fused softmax family (``scale``, ``bias``, ``where``, ``dtype``, tuple axes,
0-d and masked inputs), shared by :mod:`csoftmax.reference` and the fast module.

:func:`fused_inputs` checks everything before any work is done (so a bad argument leaves every
array untouched) and returns what both implementations need; :func:`finish` gives the result its
public form (a NumPy scalar for a 0-d input, a masked array for a masked one).

Examples
--------
>>> import numpy as np
>>> f = fused_inputs(np.zeros((2, 3), np.float16), -1, 0.5, None, None, None, "softmax")
>>> f.compute, f.result, f.axes, f.scale
(dtype('float32'), dtype('float16'), (1,), array(0.5, dtype=float32))
>>> fused_inputs(np.zeros((2, 3)), -1, None, np.zeros(4), None, None, "softmax")
Traceback (most recent call last):
    ...
ValueError: csoftmax: bias of shape (4,) does not broadcast to x's shape (2, 3)
"""

from typing import NamedTuple, Optional

import numpy as np

from ._validation import _dtypes_for, as_input, check_out, normalize_axis

__all__ = ["FusedArgs", "fused_inputs", "normalize_axes", "reduced_shape_axes", "finish"]

_COMPUTE = (np.dtype(np.float32), np.dtype(np.float64))


class FusedArgs(NamedTuple):
    x: np.ndarray                 # the input as an array (its own dtype; 0-d made 1-d)
    compute: np.dtype             # float32 or float64: z and the math are in this precision
    result: np.dtype              # the dtype returned
    axes: tuple                   # the reduced axes of x, sorted, non-negative
    scale: Optional[np.ndarray]   # compute dtype, broadcastable to x's reduced shape (keepdims)
    bias: Optional[np.ndarray]    # compute dtype, broadcastable to x
    where: Optional[np.ndarray]   # bool, broadcastable to x
    shape: tuple                  # the result's shape
    scalar: bool                  # 0-d input: the result is a NumPy scalar
    masked: bool                  # numpy.ma input: the result is a masked array


def normalize_axes(axis, ndim):
    """`axis` (an int, a tuple of ints or None) as a sorted tuple of non-negative axes.

    >>> normalize_axes((-1, 0), 3), normalize_axes(None, 2), normalize_axes(-1, 2)
    ((0, 2), (0, 1), (1,))
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, tuple):
        axes = tuple(sorted(normalize_axis(a, ndim) for a in axis))
        if len(set(axes)) != len(axes):
            raise ValueError(f"csoftmax: repeated axis in {axis}")
        return axes
    return (normalize_axis(axis, ndim),)


def reduced_shape_axes(shape, axes, keepdims):
    """Shape of a reduction of `shape` over `axes`.

    >>> reduced_shape_axes((2, 3, 4), (0, 2), False), reduced_shape_axes((2, 3), (1,), True)
    ((3,), (2, 1))
    """
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _broadcastable(name, a, shape, target):
    # what np.broadcast_shapes(a.shape, shape) == shape says, without its microseconds
    ok = a.ndim <= len(shape) and all(d == 1 or d == t for d, t in zip(a.shape[::-1], shape[::-1]))
    if not ok:
        raise ValueError(f"csoftmax: {name} of shape {a.shape} does not broadcast to {target} "
                         f"{tuple(shape)}")


def _compute_dtype(dtype):
    if dtype is None:
        return None
    try:
        d = np.dtype(dtype)
    except TypeError:
        d = None
    # not `d in _COMPUTE`: a dtype compares equal to None (np.dtype(None) is float64)
    if d is None or not any(d == c for c in _COMPUTE):
        raise TypeError(f"csoftmax: dtype must be float32 or float64, not {dtype!r}")
    return d


def fused_inputs(x, axis, scale, bias, where, dtype, op, keepdims=False, out=None):
    """Check every argument of softmax / log_softmax / logsumexp (`op`) and return a
    :class:`FusedArgs`; `out` is checked too. Raises TypeError / ValueError / AxisError."""
    masked = isinstance(x, np.ma.MaskedArray)
    if masked:
        mask = np.ma.getmaskarray(x)
        x = np.ma.getdata(x)
    try:
        arr = np.asarray(x)
    except ValueError:
        arr = as_input(x)[0]   # the error for ragged input
    compute, result = _dtypes_for(arr.dtype)
    wanted = _compute_dtype(dtype)
    if wanted is not None:
        compute = result = wanted
    shape = arr.shape
    scalar = arr.ndim == 0
    axes = normalize_axes(axis, max(arr.ndim, 1))   # a 0-d input is a row of one
    if scalar:
        axes = ()
    kshape = reduced_shape_axes(shape, axes, True)
    if scale is not None:
        with np.errstate(over="ignore"):   # a scale beyond the compute dtype's range: below
            s = as_input(scale)[0].astype(compute)
        _broadcastable("scale", s, kshape, "the reduced shape (keepdims) of x,")
        if not np.isfinite(s).all():
            raise ValueError(f"csoftmax: scale must be finite (in {compute})")
        scale = s
    if bias is not None:
        b = as_input(bias)[0].astype(compute, copy=False)
        _broadcastable("bias", b, shape, "x's shape")
        bias = b
    if where is not None:
        w = np.asarray(where)
        if w.dtype != np.bool_:
            raise TypeError(f"csoftmax: where must be a boolean array, not {w.dtype}")
        _broadcastable("where", w, shape, "x's shape")
        where = w
    if masked:   # an array even when 0-d (~ of a 0-d mask is a NumPy scalar)
        where = np.asarray(~mask if where is None else np.logical_and(where, ~mask))
    if op == "logsumexp":
        rshape = reduced_shape_axes(shape, axes, keepdims)
    else:
        rshape = shape
    check_out(out, rshape, result)
    if scalar:
        arr, axes = arr.reshape(1), (0,)
    return FusedArgs(arr, compute, result, axes, scale, bias, where, rshape, scalar and out is None,
                     masked)


def finish(r, f, op, out=None):
    """The public form of result `r` (of shape ``f.shape`` or its 1-element form)."""
    if out is not None:
        r = out
    elif f.scalar:
        r = r.reshape(())[()]
    elif r.ndim != len(f.shape):
        r = r.reshape(f.shape)
    if not f.masked:
        return r
    w = np.broadcast_to(f.where, f.x.shape)
    if op == "logsumexp":   # masked where no entry of the row was selected
        empty = np.reshape(~np.any(w, axis=f.axes), np.shape(r))
        if empty.ndim == 0 and out is None:   # a scalar, or np.ma.masked, as np.ma.sum gives
            return np.ma.masked if empty else r
        return np.ma.MaskedArray(r, mask=empty)
    return np.ma.MaskedArray(r, mask=np.reshape(~w, np.shape(r)))
