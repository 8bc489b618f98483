"""Misaligned arrays (a float view at an odd byte offset) give the aligned results, bit for
bit, on every instruction-set build, for every loss, backward pass and sigmoid function and every
array argument (the softmax family: softmax/test_unaligned.py).

The kernels may only dereference aligned element pointers (anything else is undefined
behaviour in C); the layer above copies what is misaligned. Run against a build with UBSan,
this file also reports any misaligned access that gets through.
"""
import numpy as np
import pytest

from helpers import FLOATS, check_same_bits, draw, fast_module, misaligned, misaligned_pairs

csoftmax = fast_module()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(64, 10), (40, 1000)], ids=str)
def test_cross_entropy(isa, shape, dtype):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    labels = rng.integers(0, shape[1], shape[0]).astype(np.int64)
    labels[1] = -100
    prob = rng.dirichlet(np.ones(shape[1]), shape[0]).astype(dtype)
    weight = rng.uniform(0.5, 2, shape[1]).astype(dtype)
    for a, m in misaligned_pairs(x):
        check_same_bits(csoftmax.cross_entropy, (a, labels), (m, misaligned(labels)), return_grad=True)
        check_same_bits(csoftmax.cross_entropy, (a, labels), (m, labels), weight=misaligned(weight),
               reduction="none", return_grad=True)
        check_same_bits(csoftmax.cross_entropy, (a, prob), (m, misaligned(prob)), return_grad=True,
               label_smoothing=0.1)
    xt = np.ascontiguousarray(x.T)   # the class axis first
    check_same_bits(csoftmax.cross_entropy, (xt, labels), (misaligned(xt), misaligned(labels)), axis=0,
           return_grad=True)
    check_same_bits(csoftmax.nll_loss, (x, labels), (misaligned(x), misaligned(labels)),
           weight=misaligned(weight))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ["softmax_backward", "log_softmax_backward"])
def test_backward(isa, func, dtype):
    rng = np.random.default_rng(3)
    g = rng.standard_normal((40, 300)).astype(dtype)
    y = csoftmax.softmax(rng.standard_normal((40, 300)).astype(dtype))
    if func == "log_softmax_backward":
        y = np.log(y)
    fn = getattr(csoftmax, func)
    for (ag, mg), (ay, my) in zip(misaligned_pairs(g), misaligned_pairs(y)):
        for axis in (-1, 0):
            check_same_bits(fn, (ag, ay), (mg, my), axis=axis)
    out = misaligned(np.zeros_like(g))
    assert fn(g, y, out=out) is out
    np.testing.assert_array_equal(out, fn(g, y))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ["sigmoid", "log_sigmoid"])
def test_sigmoid_family(isa, func, dtype):
    x = draw((31, 67), dtype, seed=4, scale=20)
    fn = getattr(csoftmax, func)
    for a, m in misaligned_pairs(x):
        check_same_bits(fn, (a,), (m,))
    out = misaligned(np.zeros_like(x))
    assert fn(x, out=out) is out
    np.testing.assert_array_equal(out, fn(x))


@pytest.mark.parametrize("dtype", FLOATS)
def test_binary_cross_entropy(isa, dtype):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((31, 67)) * 5).astype(dtype)
    t = rng.uniform(0, 1, x.shape).astype(dtype)
    w = rng.uniform(0, 2, x.shape).astype(dtype)
    for (ax, mx), (at, mt) in zip(misaligned_pairs(x), misaligned_pairs(t)):
        for reduction in ("mean", "none"):
            check_same_bits(csoftmax.binary_cross_entropy, (ax, at), (mx, mt), reduction=reduction,
                   return_grad=True)
            check_same_bits(csoftmax.binary_cross_entropy, (ax, at), (mx, mt), weight=misaligned(w),
                   reduction=reduction, return_grad=True)
    check_same_bits(csoftmax.binary_cross_entropy, (x, t), (misaligned(x), misaligned(t)),
           weight=misaligned(w[0]))   # broadcast weight row
