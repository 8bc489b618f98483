"""Argument rules of ``top_k_softmax`` and ``sample``, shared by the reference and the fast module
(so both raise the same errors), and the per-row uniforms that make draws reproducible.

>>> import numpy as np
>>> x, dtype, ax = decoding_input(np.zeros((2, 3), np.float16), -1)
>>> x.dtype, dtype, ax
(dtype('float32'), dtype('float16'), 1)
>>> sampling_options(1.0, 5, 0.9, None, 3)
(1.0, 3, 0.9, None)
"""
import operator

import numpy as np

from ._validation import as_input, class_axis


def decoding_input(logits, axis):
    """``(x, result_dtype, axis)``: the logits in their compute dtype (float16 and bfloat16 in
    float32, integers in float64), the dtype of probability results, and `axis` normalized.
    bfloat16 is recognized by name, so ml_dtypes is never imported here."""
    arr = np.asarray(logits)
    if arr.dtype.name == "bfloat16":
        x, dtype = arr.astype(np.float32), arr.dtype
    else:
        x, dtype = as_input(arr)
    return x, dtype, class_axis(axis, x.ndim, "logits")


def _real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"csoftmax: {name} must be a real number, not {value!r}")
    value = float(value)
    if value != value:
        raise ValueError(f"csoftmax: {name} must not be NaN")
    return value


def _count(value, name):
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"csoftmax: {name} must be an integer, not {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"csoftmax: {name} must be an integer, not {value!r}") from None


def check_k(k, n):
    k = _count(k, "k")
    if not 0 <= k <= n:
        raise ValueError(f"csoftmax: k must be in [0, {n}] (the axis length), not {k}")
    return k


def check_temperature(temperature, allow_zero):
    t = _real(temperature, "temperature")
    if not (0 < t < np.inf or (allow_zero and t == 0)):
        raise ValueError(f"csoftmax: temperature must be finite and "
                         f"{'>= 0' if allow_zero else '> 0'}, not {temperature!r}")
    return t


def sampling_options(temperature, top_k, top_p, min_p, n):
    """Checked ``(temperature, top_k, top_p, min_p)``; top_k is capped at the row length `n`
    (keeping every entry), the others stay None when not given."""
    t = check_temperature(temperature, allow_zero=True)
    if top_k is not None:
        top_k = _count(top_k, "top_k")
        if top_k < 1:
            raise ValueError(f"csoftmax: top_k must be >= 1, not {top_k}")
        top_k = min(top_k, max(n, 1))
    if top_p is not None:
        top_p = _real(top_p, "top_p")
        if not 0 < top_p <= 1:
            raise ValueError(f"csoftmax: top_p must be in (0, 1], not {top_p!r}")
    if min_p is not None:
        min_p = _real(min_p, "min_p")
        if not 0 <= min_p <= 1:
            raise ValueError(f"csoftmax: min_p must be in [0, 1], not {min_p!r}")
    return t, top_k, top_p, min_p


def uniforms(random_state, nrows):
    """One uniform in [0, 1) per row, in row order, from ``default_rng(random_state)`` (a
    Generator passed in is advanced): the only randomness of ``sample``."""
    if not (random_state is None or isinstance(random_state, np.random.Generator)):
        if isinstance(random_state, (bool, np.bool_)):
            raise ValueError("csoftmax: random_state must be None, an int or a Generator")
        try:
            random_state = operator.index(random_state)
        except TypeError:
            raise ValueError("csoftmax: random_state must be None, an int or a "
                             f"numpy.random.Generator, not {random_state!r}") from None
    return np.random.default_rng(random_state).random(nrows)


def row_name(r, batch_shape):
    """Row `r` (in C order over the batch axes) as the user indexes it."""
    if len(batch_shape) == 1:
        return str(r)
    return str(tuple(int(i) for i in np.unravel_index(r, batch_shape)))


def raise_bad_row(r, batch_shape, no_finite):
    what = "has no finite entry" if no_finite else "has NaN or +inf"
    raise ValueError(f"csoftmax: row {row_name(r, batch_shape)} of logits {what}")


def as_rows(x, axis):
    """``(N, n)`` rows with `axis` last (a view when it can be; N counted even when n == 0)."""
    n = x.shape[axis]
    return np.moveaxis(x, axis, -1).reshape(x.size // n if n else int(np.prod(
        x.shape[:axis] + x.shape[axis + 1:])), n)


def from_rows(a, batch_shape, axis):
    """``(N, k)`` results as the input's shape with `axis` of length k, C-contiguous."""
    a = a.reshape(tuple(batch_shape) + a.shape[1:])
    return np.ascontiguousarray(np.moveaxis(a, -1, axis))
