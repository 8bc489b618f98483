"""The argument rules every csoftmax function shares, with their error messages: which inputs are
accepted and in what dtype they are computed (:func:`as_input`), the axis, the result's dtype and
shape, how a result reaches ``out=``, and the class axis of the losses and decoding functions.

The rules of one family live beside it, built on these: :mod:`csoftmax._fused_args` (softmax's
scale, bias, where, dtype, tuple axes), :mod:`csoftmax._loss_args` (cross-entropy and the other
training functions), :mod:`csoftmax._decoding_args` (top-k and sampling). The reference and the
fast module both call them, so the two cannot drift apart: the reference is then only math, and
the Cython layer only layout and dispatch (it accepts the common cases inline and calls these
checks for everything else, so the errors are the same).

Examples
--------
>>> import numpy as np
>>> arr, result_dtype = as_input(np.array([1, 2], dtype=np.float16))
>>> arr.dtype, result_dtype
(dtype('float32'), dtype('float16'))
>>> normalize_axis(-1, 2)
1
>>> reduced_shape((3, 4), 1, keepdims=True)
(3, 1)
"""

import operator

import numpy as np
from numpy.exceptions import AxisError

__all__ = ["is_half", "as_input", "as_real", "work_dtype", "normalize_axis", "check_out", "deliver",
           "reduced_shape", "class_axis", "class_rows", "from_class_rows"]

_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def is_half(dtype):
    """float16 or ml_dtypes' bfloat16 (recognized by name: ml_dtypes is never imported here)."""
    return dtype.itemsize == 2 and (dtype.kind == "f" or dtype.name == "bfloat16")


def _dtypes_for(dtype):
    """Map an input dtype to ``(compute_dtype, result_dtype)`` or raise TypeError."""
    kind = dtype.kind
    if is_half(dtype) and kind != "f":
        return _F32, dtype   # bfloat16: float32 holds every value exactly, as for float16
    if kind == "f":
        if dtype.itemsize == 2:
            # No float16 arithmetic on the CPU; float32 holds every float16 exactly.
            return _F32, _F16
        if dtype.itemsize == 4:
            return _F32, _F32
        if dtype.itemsize == 8:
            return _F64, _F64
        raise TypeError(
            f"csoftmax: dtype {dtype} (longdouble) is not supported; "
            "convert the input to float64"
        )
    if kind in "biu":
        # Integers and bool promote to float64, like np.exp(int64) and scipy.special.softmax.
        return _F64, _F64
    raise TypeError(
        f"csoftmax: unsupported input dtype {dtype}; "
        "expected a real floating-point, integer or bool array"
    )


def as_input(x):
    """Return `x` as an array in its compute dtype, plus the dtype of the result.

    Parameters
    ----------
    x : array_like
        Real input. float32 and float64 are used as they are; float16 is computed in float32;
        integers and bool are computed in float64. Non-native byte order is converted.

    Returns
    -------
    arr : numpy.ndarray
        `x` itself when it is already a native ndarray of the compute dtype, otherwise a new
        converted array. Callers must never write to it.
    result_dtype : numpy.dtype
        The dtype of the values the public function returns (native byte order).

    Raises
    ------
    TypeError
        For complex, object (including ``None`` and ragged lists), string, bytes,
        datetime/timedelta, structured/void and longdouble inputs.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros(3, dtype=np.float32)
    >>> arr, rdt = as_input(x)
    >>> arr is x, rdt
    (True, dtype('float32'))
    >>> as_input([1, 2, 3])[0].dtype
    dtype('float64')
    >>> as_input(np.zeros(2, dtype=">f4"))[0].dtype.isnative
    True
    >>> as_input([1j])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    TypeError: csoftmax: unsupported input dtype complex128; ...
    """
    try:
        arr = np.asarray(x)
    except ValueError as exc:
        # NumPy >= 1.24 refuses ragged nested sequences; report it as the dtype problem it is.
        raise TypeError(
            "csoftmax: input cannot be converted to a numeric array "
            f"(ragged or object sequence): {exc}"
        ) from exc
    compute, result = _dtypes_for(arr.dtype)
    # copy=False keeps `x` itself when dtype (including byte order) already matches.
    return arr.astype(compute, copy=False), result


def as_real(a, dtype):
    """`a` as an array of `dtype` (weights and targets follow the logits' compute dtype);
    TypeError for what :func:`as_input` rejects."""
    return as_input(a)[0].astype(dtype, copy=False)


def work_dtype(result_dtype):
    """The dtype a result of `result_dtype` is computed in: float16 and bfloat16 in float32,
    every other float in itself."""
    return _F32 if is_half(result_dtype) else result_dtype


def normalize_axis(axis, ndim):
    """Validate `axis` for an array of `ndim` dimensions and make it non-negative.

    Parameters
    ----------
    axis : int or None
        Python or NumPy integer; negative values count from the end. ``None`` means the whole
        array is one row and is returned unchanged.
    ndim : int
        Number of dimensions of the input.

    Returns
    -------
    int or None

    Raises
    ------
    TypeError
        If `axis` is a bool, float, tuple, string or anything else that is not an integer.
    numpy.exceptions.AxisError
        If `axis` is out of range (also a ValueError and an IndexError).

    Examples
    --------
    >>> normalize_axis(-1, 3)
    2
    >>> normalize_axis(None, 3) is None
    True
    >>> normalize_axis(3, 3)
    Traceback (most recent call last):
        ...
    numpy.exceptions.AxisError: axis 3 is out of bounds for array of dimension 3
    """
    if axis is None:
        return None
    # bool passes operator.index but axis=True is almost certainly a mistake (keepdims=True?).
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError("csoftmax: axis must be an integer or None, not bool")
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(
            f"csoftmax: axis must be an integer or None, not {type(axis).__name__}"
        ) from None
    if not -ndim <= ax < ndim:
        raise AxisError(ax, ndim)
    return ax + ndim if ax < 0 else ax


def check_out(out, shape, dtype):
    """Check that `out` can receive a result of `shape` and `dtype`; return it.

    Called before any work, so a bad `out` never costs a computation.

    Parameters
    ----------
    out : numpy.ndarray or None
        Destination array (any memory layout), or None: nothing to check.
    shape : tuple of int
        Required shape, exactly.
    dtype : numpy.dtype
        Required dtype, exactly (native byte order; no casting).

    Returns
    -------
    numpy.ndarray or None
        `out`.

    Raises
    ------
    TypeError
        If `out` is not an ndarray or its dtype differs from `dtype`.
    ValueError
        If its shape differs from `shape` or it is read-only.

    Examples
    --------
    >>> import numpy as np
    >>> out = np.empty((2, 3))
    >>> check_out(out, (2, 3), np.dtype(np.float64)) is out
    True
    >>> check_out(out, (3, 2), np.dtype(np.float64))
    Traceback (most recent call last):
        ...
    ValueError: csoftmax: out has shape (2, 3), expected (3, 2)
    """
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(
            f"csoftmax: out must be a numpy.ndarray, not {type(out).__name__}"
        )
    if out.dtype != dtype:
        raise TypeError(f"csoftmax: out has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if out.shape != tuple(shape):
        raise ValueError(f"csoftmax: out has shape {out.shape}, expected {tuple(shape)}")
    if not out.flags.writeable:
        raise ValueError("csoftmax: out is read-only")
    return out


def deliver(result, dtype, out=None):
    """`result` as `dtype`, or written into `out` (already checked by :func:`check_out`).

    Rounding to float16 may overflow to +-inf: that is the correctly rounded result, not an
    error, so it raises no warning. `out` may alias an input: `result` is complete by now.

    Examples
    --------
    >>> import numpy as np
    >>> deliver(np.array([1.0, 1e5]), np.dtype(np.float16))
    array([ 1., inf], dtype=float16)
    >>> out = np.zeros(2, np.float32)
    >>> deliver(np.array([0.5, 2.0], np.float32), out.dtype, out) is out
    True
    """
    if out is None and result.dtype == dtype:
        return np.asarray(result)   # a NumPy scalar too (np.errstate costs a microsecond)
    if out is result:
        return out
    with np.errstate(over="ignore"):
        if out is None:
            return np.asarray(result.astype(dtype))
        out[...] = result
    return out


def reduced_shape(shape, axis, keepdims):
    """Shape of a logsumexp result over `axis` of an array of `shape`.

    Parameters
    ----------
    shape : tuple of int
    axis : int or None
        Already normalized (non-negative) axis, or None for all axes.
    keepdims : bool
        Keep reduced axes as length-1 axes.

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> reduced_shape((2, 3, 4), 1, keepdims=False)
    (2, 4)
    >>> reduced_shape((2, 3), None, keepdims=True)
    (1, 1)
    >>> reduced_shape((2, 3), None, keepdims=False)
    ()
    """
    shape = tuple(shape)
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    if keepdims:
        return shape[:axis] + (1,) + shape[axis + 1 :]
    return shape[:axis] + shape[axis + 1 :]


# --------------------------------------------------------------------------------------------
# The class axis of the losses and the decoding functions

def class_axis(axis, ndim, name):
    if ndim == 0:
        raise ValueError(f"csoftmax: {name} must have at least one dimension "
                         f"(the class axis)")
    if axis is None:
        raise TypeError("csoftmax: axis must be an integer (the class axis), "
                        "not None")
    return normalize_axis(axis, ndim)


def class_rows(a, axis):
    """`a` as ``(N, C)`` rows with the class `axis` (non-negative) last: a view when it can be.

    Examples
    --------
    >>> import numpy as np
    >>> class_rows(np.zeros((2, 3, 4)), 1).shape
    (8, 3)
    """
    if axis != a.ndim - 1:
        a = np.moveaxis(a, axis, -1)
    return a.reshape(-1, a.shape[-1])


def from_class_rows(rows, shape, axis, dtype):
    """Inverse of :func:`class_rows` for an array of `shape`: a new C-contiguous array of
    `dtype`."""
    moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
    r = rows.reshape(moved)
    if axis != len(shape) - 1:
        r = np.ascontiguousarray(np.moveaxis(r, -1, axis))
    return deliver(r, dtype)
