"""Reference of the softmax family (softmax, log_softmax, logsumexp, with the fused arguments);
it defines their documented semantics.

The fast C module must give the same results (up to rounding) and raise the same exceptions.
This is also the "NumPy" baseline of the benchmarks, so it is the plain textbook algorithm in
the compute dtype (float32 stays float32): ``m = max; e = exp(x - m); e / sum(e)``.

Semantics
---------
* Each function works on rows along `axis` (default the last). ``axis=None`` makes the whole
  array one row: softmax and log_softmax keep the input shape, logsumexp returns a 0-d result.
* dtypes: float32 and float64 are computed in their own precision; float16 is computed in
  float32 and returned as float16; integers and bool are computed and returned as float64.
  Non-native byte order is accepted. Complex, object, string, datetime, structured and
  longdouble inputs raise TypeError (see :func:`csoftmax._validation.as_input`).
* A zero-length row: softmax and log_softmax return an empty array of the input shape;
  logsumexp returns -inf. Zero rows (a 0-size batch) give empty results.
* A row that is entirely -inf: softmax and log_softmax give NaN for the whole row; logsumexp
  gives -inf.
* A NaN anywhere in a row makes the whole row NaN (all three functions).
* A +inf in a row without NaN: softmax and log_softmax give NaN for the whole row (as NumPy,
  SciPy and PyTorch do); logsumexp gives +inf.
* -inf entries in a row whose maximum is finite: softmax gives exactly 0 there and
  log_softmax gives -inf.
* Extreme finite logits (1e30, 3e38 in float32, 1e308 in float64) never overflow:
  ``softmax([1e30, 0]) == [1, 0]`` and ``logsumexp([1e308, 1e308]) == 1e308``.
* logsumexp keeps relative accuracy near 0: ``logsumexp([0, -40]) == 4.248354255291589e-18``.
* Results are new arrays unless ``out=`` is given; `out` must have exactly the result dtype
  and shape and be writeable (TypeError for a non-ndarray or a wrong dtype, ValueError for a
  wrong shape or a read-only array). `out` may be the input itself (in place) or overlap it
  arbitrarily; the result is the same as with a separate output. The input is never modified
  otherwise.
* logsumexp returns a NumPy scalar when the result is 0-d and `out` is None (like np.sum);
  softmax and log_softmax return an ndarray of `x`'s shape, or a NumPy scalar for a 0-d input
  without `out` (as SciPy's softmax does).
* No RuntimeWarning is emitted for any of the special cases above.

Fused arguments (issue 12; checked by :mod:`csoftmax._fused_args` for both implementations)
------------------------------------------------------------------------------------------
* The function is applied to ``z = x * scale + bias`` in the compute dtype: ``x * scale`` is
  rounded, then ``bias`` is added (two roundings; an overflow of the product to inf plus a -inf
  bias is NaN). `scale` is a finite scalar or an array broadcastable to the reduced shape with
  keepdims (ValueError otherwise, or when it is not finite in the compute dtype); `bias` is
  broadcastable to `x` (ValueError naming both shapes otherwise).
* ``where`` (a boolean array broadcastable to `x`; TypeError for any other dtype) excludes the
  entries where it is False: softmax writes exactly 0 there and log_softmax -inf, logsumexp
  leaves them out of the sum, and what they hold (NaN, inf) has no effect. A row with none
  selected gives 0 (softmax) and -inf (log_softmax, logsumexp), without NaN or warning. Without
  ``where`` the special values above are unchanged (an all -inf row, from a bias too, is NaN).
* ``dtype`` (float32 or float64, TypeError otherwise) is the compute and result dtype, as if `x`
  were converted first. bfloat16 (ml_dtypes, recognized by its dtype name: never imported here)
  is computed in float32 and returned as bfloat16, like float16.
* ``axis`` may be a tuple of ints (the axes are reduced together, as SciPy does; repeated axes
  are a ValueError). A 0-d input is a row of one (axis None, 0, -1, () or (0,)) and gives a
  NumPy scalar. A ``numpy.ma.MaskedArray`` is read as ``where=~mask`` (combined with `where`)
  and gives a masked array: softmax / log_softmax masked where the input was excluded,
  logsumexp where a row had none selected.

Examples
--------
>>> import numpy as np
>>> from csoftmax import reference as ref
>>> ref.softmax(np.array([0.0, np.log(3.0)]))
array([0.25, 0.75])
>>> float(ref.logsumexp([0.0, 0.0]))  # log 2
0.6931471805599453
"""

import numpy as np

from .._fused_args import finish, fused_inputs
from .._validation import deliver

__all__ = ["softmax", "log_softmax", "logsumexp"]

# Special values flow through inf - inf and exp(-inf) by design; never let them warn.
_QUIET = dict(over="ignore", under="ignore", invalid="ignore", divide="ignore")


def _row_length(arr, axes):
    return int(np.prod([arr.shape[a] for a in axes]))


def _z(f):
    """``x * scale + bias`` in the compute dtype, -inf where `where` is False (x itself, converted,
    when there is neither)."""
    z = f.x.astype(f.compute, copy=False)
    with np.errstate(**_QUIET):
        if f.scale is not None:
            z = z * f.scale
        if f.bias is not None:
            z = z + f.bias
        if f.where is not None:
            z = np.where(f.where, z, -np.inf).astype(f.compute, copy=False)
    return z


def _out_view(out, arr):
    """`out` in the 1-element form of a 0-d input (a view); `out` itself otherwise."""
    return out if out is None or out.ndim == arr.ndim else out.reshape(arr.shape)


def _aliases_exactly(a, b):
    """True if `a` and `b` address the same elements in the same order."""
    if a is b:
        return True
    ia, ib = a.__array_interface__, b.__array_interface__
    return (
        ia["data"][0] == ib["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
    )


def _destination(arr, out):
    """Where to compute a shape-preserving result: `out` itself or a fresh array.

    Computing straight into `out` avoids allocating (and page-faulting) a full-size
    temporary, which is what a NumPy user would write. That is only safe when `out` has
    the compute dtype and is either disjoint from the input or exactly the input; any
    other overlap would let early writes corrupt later reads.
    """
    if (
        out is not None
        and out.dtype == arr.dtype
        and (not np.may_share_memory(out, arr) or _aliases_exactly(out, arr))
    ):
        return out
    return np.empty_like(arr)


def softmax(x, axis=-1, *, scale=None, bias=None, where=None, dtype=None, out=None):
    """Softmax along `axis`: ``exp(x - max) / sum(exp(x - max))``.

    Parameters
    ----------
    x : array_like
        Real input (float16/32/64, bfloat16, integer or bool; a masked array: see above).
    axis : int, tuple of ints or None, default -1
        Axis (axes) along which rows run. None treats the whole array as one row.
    scale, bias, where, dtype
        The fused arguments described in the module docstring.
    out : numpy.ndarray, optional
        Destination with exactly the result dtype and the shape of `x`. May be `x` itself.

    Returns
    -------
    numpy.ndarray
        Same shape as `x`; dtype float32 for float32, float16 for float16, else float64.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.array([0.0, np.log(2.0)]))
    array([0.33333333, 0.66666667])
    >>> softmax(np.array([[1.0, 1.0], [0.0, -np.inf]], dtype=np.float32))
    array([[0.5, 0.5],
           [1. , 0. ]], dtype=float32)
    >>> softmax(np.array([1e30, 0.0]))
    array([1., 0.])
    >>> softmax(np.log([[1.0, 3.0], [1.0, 3.0]]), bias=[[0.0, -np.inf], [0.0, 0.0]])
    array([[1.  , 0.  ],
           [0.25, 0.75]])
    >>> softmax(np.array([[0.0, np.nan], [1.0, 2.0]]), where=np.array([[True, False], [False, False]]))
    array([[1., 0.],
           [0., 0.]])
    >>> softmax(np.float32(3.0))
    np.float32(1.0)
    """
    f = fused_inputs(x, axis, scale, bias, where, dtype, "softmax", out=out)
    arr, ax, o = _z(f), f.axes, _out_view(out, f.x)
    if _row_length(arr, ax) == 0 or arr.size == 0:
        return finish(deliver(np.empty_like(arr), f.result, o), f, "softmax", out)
    e = _destination(arr, o)
    with np.errstate(**_QUIET):
        m = np.max(arr, axis=ax, keepdims=True)
        np.subtract(arr, m, out=e)
        np.exp(e, out=e)
        s = np.sum(e, axis=ax, keepdims=True)
        np.divide(e, s, out=e)
    if f.where is not None:   # excluded entries, and rows with none selected, give exactly 0
        np.copyto(e, 0, where=np.logical_not(f.where))
    return finish(deliver(e, f.result, o), f, "softmax", out)


def log_softmax(x, axis=-1, *, scale=None, bias=None, where=None, dtype=None, out=None):
    """Log-softmax along `axis`: ``(x - max) - log(sum(exp(x - max)))``.

    The subtraction order keeps entries near the maximum accurate (PyTorch issue 11752).

    Parameters
    ----------
    x : array_like
        Real input (float16/32/64, bfloat16, integer or bool; a masked array: see above).
    axis : int, tuple of ints or None, default -1
        Axis (axes) along which rows run. None treats the whole array as one row.
    scale, bias, where, dtype
        The fused arguments described in the module docstring.
    out : numpy.ndarray, optional
        Destination with exactly the result dtype and the shape of `x`. May be `x` itself.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype rules as :func:`softmax`.

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax(np.array([0.0, 0.0]))
    array([-0.69314718, -0.69314718])
    >>> log_softmax(np.array([0.0, -np.inf]))
    array([  0., -inf])
    """
    f = fused_inputs(x, axis, scale, bias, where, dtype, "log_softmax", out=out)
    arr, ax, o = _z(f), f.axes, _out_view(out, f.x)
    if _row_length(arr, ax) == 0 or arr.size == 0:
        return finish(deliver(np.empty_like(arr), f.result, o), f, "log_softmax", out)
    d = _destination(arr, o)
    with np.errstate(**_QUIET):
        m = np.max(arr, axis=ax, keepdims=True)
        np.subtract(arr, m, out=d)
        s = np.sum(np.exp(d), axis=ax, keepdims=True)
        np.subtract(d, np.log(s), out=d)
    if f.where is not None:   # excluded entries, and rows with none selected, give -inf
        np.copyto(d, -np.inf, where=np.logical_not(f.where))
    return finish(deliver(d, f.result, o), f, "log_softmax", out)


def logsumexp(x, axis=-1, *, keepdims=False, scale=None, bias=None, where=None, dtype=None,
              out=None):
    """Log of the sum of exponentials along `axis`, accurate near 0.

    Computed as ``m + (log(k) + log1p(r / k))`` where ``m`` is the row maximum, ``k`` the
    number of entries equal to it and ``r`` the sum of ``exp(x - m)`` over the *other*
    entries, so a result near 0 keeps its relative accuracy (as SciPy does).

    Parameters
    ----------
    x : array_like
        Real input (float16/32/64, bfloat16, integer or bool; a masked array: see above).
    axis : int, tuple of ints or None, default -1
        Axis (axes) to reduce. None reduces the whole array.
    scale, bias, where, dtype
        The fused arguments described in the module docstring.
    keepdims : bool, default False
        Keep the reduced axis (axes, for None) with length 1.
    out : numpy.ndarray, optional
        Destination with exactly the result dtype and the reduced shape.

    Returns
    -------
    numpy.ndarray or numpy scalar
        A NumPy scalar (np.float16/32/64) when the result is 0-d and `out` is None,
        otherwise an ndarray (`out` if given). -inf for zero-length rows.

    Examples
    --------
    >>> import numpy as np
    >>> float(logsumexp(np.array([0.0, -40.0])))
    4.248354255291589e-18
    >>> float(logsumexp(np.array([1e308, 1e308])))
    1e+308
    >>> logsumexp(np.zeros((2, 0)))
    array([-inf, -inf])
    >>> logsumexp(np.zeros((2, 3)), axis=None, keepdims=True).shape
    (1, 1)
    >>> logsumexp(np.array([[0.0, 0.0], [5.0, 1.0]]), where=np.array([[True, True], [False, False]]))
    array([0.69314718,       -inf])
    """
    f = fused_inputs(x, axis, scale, bias, where, dtype, "logsumexp", keepdims, out)
    arr, ax = _z(f), f.axes
    shape = f.shape if out is None else out.shape
    if _row_length(arr, ax) == 0:
        # The empty sum is 0 and log(0) = -inf.
        res = np.full(shape, -np.inf, dtype=arr.dtype)
    else:
        with np.errstate(**_QUIET):
            m = np.max(arr, axis=ax, keepdims=True)
            is_max = arr == m  # all False in a NaN row: k = 0 and r = NaN give NaN
            k = np.sum(is_max, axis=ax, keepdims=True, dtype=arr.dtype)
            # Leaving the maxima out of r is what keeps log1p accurate; it also drops their
            # exp(inf - inf) = NaN when m is +-inf (and makes a row with none selected -inf).
            r = np.sum(np.exp(arr - m), axis=ax, keepdims=True, where=~is_max)
            res = m + (np.log(k) + np.log1p(r / k))
        res = res.reshape(shape)
    res = deliver(res, f.result, out)
    # A 0-d result is a NumPy scalar, as from np.sum; an explicit out is returned as given.
    return finish(res[()] if out is None and res.ndim == 0 else res, f, "logsumexp", out)

