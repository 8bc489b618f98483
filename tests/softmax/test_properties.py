"""Property-based tests (hypothesis) of the mathematical identities, for every implementation.

For finite logits along any axis:

* softmax rows sum to 1 and every entry is in [0, 1];
* log_softmax == log(softmax) wherever softmax is a normal number;
* 0 <= logsumexp(x) - max(x) <= log(n);
* softmax(x + c) == softmax(x) when x + c is exact (logits on a 1/8 grid, integer c).
"""

import math

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

SETTINGS = settings(max_examples=60, deadline=None)
DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def logits_and_axis(draw, elements=None):
    dtype = draw(DTYPES)
    # Bounded sizes keep example generation fast (hypothesis draws every element).
    shape = draw(st.one_of(
        hnp.array_shapes(min_dims=1, max_dims=1, max_side=200),
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=24),
        hnp.array_shapes(min_dims=3, max_dims=3, max_side=8),
    ))
    if elements is None:
        width = 32 if dtype == np.float32 else 64
        elements = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=width)
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    axis = draw(st.sampled_from(list(range(-len(shape), len(shape))) + [None]))
    return x, axis


def _n(x, axis):
    return x.size if axis is None else x.shape[axis]


def _eps(x):
    return float(np.finfo(x.dtype).eps)


@SETTINGS
@given(case=logits_and_axis())
def test_softmax_is_a_distribution(impl, case):
    x, axis = case
    p = impl.softmax(x, axis=axis)
    assert p.shape == x.shape and p.dtype == x.dtype
    assert ((p >= 0) & (p <= 1)).all()
    total = np.sum(p.astype(np.float64), axis=axis)
    # Each entry carries ~eps * (|x - max| + few) relative error; the big entries have small
    # |x - max|, so the sum is good to a small multiple of eps * log n.
    tol = 16 * _eps(x) * (math.log(_n(x, axis)) + 4)
    assert np.abs(total - 1).max() <= tol


@SETTINGS
@given(case=logits_and_axis())
def test_log_softmax_is_log_of_softmax(impl, case):
    x, axis = case
    p = impl.softmax(x, axis=axis)
    logp = impl.log_softmax(x, axis=axis)
    assert logp.dtype == x.dtype and (logp <= 0).all()
    normal = p > np.finfo(x.dtype).tiny
    expected = np.log(p[normal].astype(np.float64))
    # Both sides are accurate to ~eps * (|log p| + log n + few) in absolute terms.
    tol = 16 * _eps(x) * (np.abs(expected) + math.log(_n(x, axis)) + 4)
    assert (np.abs(logp[normal] - expected) <= tol).all()


@SETTINGS
@given(case=logits_and_axis())
def test_logsumexp_bounds(impl, case):
    x, axis = case
    lse = np.asarray(impl.logsumexp(x, axis=axis), dtype=np.float64)
    m = np.max(x, axis=axis).astype(np.float64)
    tol = 4 * _eps(x) * np.maximum(np.abs(m), 1)
    d = lse - m
    assert (d >= -tol).all()
    assert (d <= math.log(_n(x, axis)) + tol).all()


@SETTINGS
@given(
    case=logits_and_axis(elements=st.integers(-8000, 8000).map(lambda k: k / 8)),
    c=st.integers(-1000, 1000),
)
def test_softmax_shift_invariance(impl, case, c):
    x, axis = case
    # On a 1/8 grid below 2^20 both x and x + c are exact, even in float32.
    shifted = x + x.dtype.type(c)
    p, q = impl.softmax(x, axis=axis), impl.softmax(shifted, axis=axis)
    tiny = np.finfo(x.dtype).tiny
    assert np.allclose(q, p, rtol=8 * _eps(x), atol=tiny)
    lse_shift = np.asarray(impl.logsumexp(shifted, axis=axis), dtype=np.float64)
    lse = np.asarray(impl.logsumexp(x, axis=axis), dtype=np.float64)
    assert np.allclose(lse_shift - c, lse, rtol=0, atol=8 * _eps(x) * (abs(c) + 1e3))
