"""A 3-D array with one outer axis reversed (``x[:, ::-1, :]``): its outer axes do not collapse
into evenly spaced rows, so the layer must not pass it to a row kernel as if they did (taking
``abs()`` of the strides there reads memory before the buffer). Every function, every dtype,
inputs and ``out=``, against the same call on a C-contiguous copy and against the reference.
(The softmax family over every axis and layout is in test_fast_vs_reference.py.)"""
import numpy as np
import pytest

from helpers import assert_identical

SHAPE = (3, 5, 37)
DTYPES = [np.float32, np.float64]


def _reversed_middle(a):
    """`a`'s values, laid out with the middle axis reversed in memory."""
    return np.ascontiguousarray(a[:, ::-1, :])[:, ::-1, :]


def _draw(dtype, seed, scale=4.0):
    return (np.random.default_rng(seed).standard_normal(SHAPE) * scale).astype(dtype)


def _close(got, ref):
    """Agreement with the (textbook, less accurate) reference: a check of sense only; the
    layouts are compared bit for bit."""
    tol = 1e-5 if np.asarray(ref).dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax_family_into_reversed_out(fast, reference, isa, func, axis, dtype):
    x = _draw(dtype, 1)
    want = getattr(fast, func)(x, axis=axis)
    _close(want, getattr(reference, func)(x, axis=axis))
    rx = _reversed_middle(x)
    assert_identical(getattr(fast, func)(rx, axis=axis), want)
    if want.ndim == 3:
        out = _reversed_middle(np.zeros_like(x))
        assert getattr(fast, func)(rx, axis=axis, out=out) is out
        assert_identical(out, want)
        assert getattr(fast, func)(rx, axis=axis, out=rx) is rx   # in place
        assert_identical(rx, want)
    else:
        out = np.zeros(want.shape[::-1], dtype).T[::-1]            # reversed outer axis
        assert getattr(fast, func)(x, axis=axis, out=out) is out
        assert_identical(out, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 1])
def test_cross_entropy(fast, reference, isa, dtype, axis):
    x = _draw(dtype, 2)
    batch = tuple(n for i, n in enumerate(SHAPE) if i != axis % 3)
    labels = np.random.default_rng(3).integers(0, SHAPE[axis], batch)
    prob = fast.softmax(_draw(dtype, 4), axis=axis)
    for target in (labels, prob):
        want = fast.cross_entropy(x, target, axis=axis, reduction="none", return_grad=True)
        ref = reference.cross_entropy(x, target, axis=axis, reduction="none", return_grad=True)
        for w, r in zip(want, ref):
            _close(w, r)
        t = _reversed_middle(target) if target.ndim == 3 else target[:, ::-1].copy()[:, ::-1]
        assert_identical(fast.cross_entropy(_reversed_middle(x), t, axis=axis, reduction="none",
                                            return_grad=True), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["softmax_backward", "log_softmax_backward"])
def test_backward(fast, reference, isa, dtype, func):
    g, y = _draw(dtype, 5), fast.softmax(_draw(dtype, 6))
    if func == "log_softmax_backward":
        y = np.log(y)
    want = getattr(fast, func)(g, y)
    _close(want, getattr(reference, func)(g, y))
    assert_identical(getattr(fast, func)(_reversed_middle(g), _reversed_middle(y)), want)
    out = _reversed_middle(np.zeros_like(g))
    assert getattr(fast, func)(_reversed_middle(g), y, out=out) is out
    assert_identical(out, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["sigmoid", "log_sigmoid"])
def test_sigmoid_family(fast, reference, isa, dtype, func):
    x = _draw(dtype, 7, scale=20.0)
    want = getattr(fast, func)(x)
    _close(want, getattr(reference, func)(x))
    assert_identical(getattr(fast, func)(_reversed_middle(x)), want)
    out = _reversed_middle(np.zeros_like(x))
    assert getattr(fast, func)(_reversed_middle(x), out=out) is out
    assert_identical(out, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy(fast, reference, isa, dtype):
    x, t = _draw(dtype, 8), fast.sigmoid(_draw(dtype, 9))
    want = fast.binary_cross_entropy(x, t, reduction="none", return_grad=True)
    for w, r in zip(want, reference.binary_cross_entropy(x, t, reduction="none",
                                                        return_grad=True)):
        _close(w, r)
    assert_identical(fast.binary_cross_entropy(_reversed_middle(x), _reversed_middle(t),
                                               reduction="none", return_grad=True), want)
