"""A 3-D array with one outer axis reversed (``x[:, ::-1, :]``): its outer axes do not collapse
into evenly spaced rows, so the layer must not pass it to a row kernel as if they did (taking
``abs()`` of the strides there reads memory before the buffer). cross_entropy, the backward passes,
sigmoid, log_sigmoid and binary_cross_entropy, inputs and ``out=``, every dtype, against the same
call on a C-contiguous copy and against the reference (the softmax family:
softmax/test_reversed_outer_axis.py)."""
import numpy as np
import pytest

from helpers import FLOATS, assert_identical, assert_near_reference, draw, in_layout

SHAPE = (3, 5, 37)


def _draw(dtype, seed, scale=4.0):
    return draw(SHAPE, dtype, seed=seed, scale=scale)


def _reversed_middle(a):
    """`a`'s values, laid out with the middle axis reversed in memory."""
    return in_layout(a, "reversed_middle")


@pytest.mark.parametrize("dtype", FLOATS)
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
            assert_near_reference(w, r)
        t = _reversed_middle(target) if target.ndim == 3 else target[:, ::-1].copy()[:, ::-1]
        assert_identical(fast.cross_entropy(_reversed_middle(x), t, axis=axis, reduction="none",
                                            return_grad=True), want)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ["softmax_backward", "log_softmax_backward"])
def test_backward(fast, reference, isa, dtype, func):
    g, y = _draw(dtype, 5), fast.softmax(_draw(dtype, 6))
    if func == "log_softmax_backward":
        y = np.log(y)
    want = getattr(fast, func)(g, y)
    assert_near_reference(want, getattr(reference, func)(g, y))
    assert_identical(getattr(fast, func)(_reversed_middle(g), _reversed_middle(y)), want)
    out = _reversed_middle(np.zeros_like(g))
    assert getattr(fast, func)(_reversed_middle(g), y, out=out) is out
    assert_identical(out, want)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ["sigmoid", "log_sigmoid"])
def test_sigmoid_family(fast, reference, isa, dtype, func):
    x = _draw(dtype, 7, scale=20.0)
    want = getattr(fast, func)(x)
    assert_near_reference(want, getattr(reference, func)(x))
    assert_identical(getattr(fast, func)(_reversed_middle(x)), want)
    out = _reversed_middle(np.zeros_like(x))
    assert getattr(fast, func)(_reversed_middle(x), out=out) is out
    assert_identical(out, want)


@pytest.mark.parametrize("dtype", FLOATS)
def test_binary_cross_entropy(fast, reference, isa, dtype):
    x, t = _draw(dtype, 8), fast.sigmoid(_draw(dtype, 9))
    want = fast.binary_cross_entropy(x, t, reduction="none", return_grad=True)
    for w, r in zip(want, reference.binary_cross_entropy(x, t, reduction="none",
                                                        return_grad=True)):
        assert_near_reference(w, r)
    assert_identical(fast.binary_cross_entropy(_reversed_middle(x), _reversed_middle(t),
                                               reduction="none", return_grad=True), want)
