"""Misaligned arrays (a float view at an odd byte offset) give the aligned results, bit for
bit, on every instruction-set build, for every function and every array argument.

The kernels may only dereference aligned element pointers (anything else is undefined
behaviour in C); the layer above copies what is misaligned. Run against a build with UBSan,
this file also reports any misaligned access that gets through.
"""
import numpy as np
import pytest

from helpers import assert_identical, fast_module

csoftmax = fast_module()


def misaligned(a):
    """A copy of `a` (same shape, dtype and values) whose data starts one byte off alignment."""
    a = np.asarray(a)
    buf = np.zeros(a.nbytes + a.itemsize + 1, np.uint8)
    v = buf[1:1 + a.nbytes].view(a.dtype).reshape(a.shape)
    v[...] = a
    assert not v.flags.aligned and v.flags.c_contiguous
    return v


def aligned(a):
    return np.array(a, order="C", copy=True)


def layouts(a, place=misaligned):
    """`a` in several layouts (C, Fortran, strided, reversed), its data placed by `place`."""
    yield place(a)
    if a.ndim == 2:
        yield place(a.T).T
        yield place(np.repeat(a, 2, axis=1))[:, ::2]
        yield place(a[::-1, ::-1])[::-1, ::-1]


def layout_pairs(a):
    """(aligned, misaligned) arrays of the same layout: the same kernel path, the same bits."""
    return zip(layouts(a, aligned), layouts(a))


def _check(fn, args, misaligned_args, **kwargs):
    for a, m in zip(args, misaligned_args):
        assert a.strides == m.strides
    want = fn(*args, **kwargs)
    kept = [np.array(m, copy=True) for m in misaligned_args]
    got = fn(*misaligned_args, **kwargs)
    assert_identical(got, want)
    for m, k in zip(misaligned_args, kept):
        np.testing.assert_array_equal(m, k)   # inputs untouched


DTYPES = [np.float32, np.float64]
SHAPES = [(7, 37), (40, 1000), (3, 70000)]   # short rows, plain rows, long (blocked) rows


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family(isa, func, shape, dtype):
    x = (np.random.default_rng(0).standard_normal(shape) * 5).astype(dtype)
    fn = getattr(csoftmax, func)
    for a, m in layout_pairs(x):
        for axis in (-1, 0, None):
            _check(fn, (a,), (m,), axis=axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_into_misaligned_out(isa, func, dtype):
    x = (np.random.default_rng(1).standard_normal((33, 129)) * 5).astype(dtype)
    fn = getattr(csoftmax, func)
    for axis in (-1, 0):
        want = fn(x, axis=axis)
        out = misaligned(np.zeros(np.shape(want), dtype))
        assert fn(x, axis=axis, out=out) is out
        np.testing.assert_array_equal(out, want)
        inplace = misaligned(x)
        if func != "logsumexp":
            assert fn(inplace, axis=axis, out=inplace) is inplace
            np.testing.assert_array_equal(inplace, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 10), (40, 1000)], ids=str)
def test_cross_entropy(isa, shape, dtype):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    labels = rng.integers(0, shape[1], shape[0]).astype(np.int64)
    labels[1] = -100
    prob = rng.dirichlet(np.ones(shape[1]), shape[0]).astype(dtype)
    weight = rng.uniform(0.5, 2, shape[1]).astype(dtype)
    for a, m in layout_pairs(x):
        _check(csoftmax.cross_entropy, (a, labels), (m, misaligned(labels)), return_grad=True)
        _check(csoftmax.cross_entropy, (a, labels), (m, labels), weight=misaligned(weight),
               reduction="none", return_grad=True)
        _check(csoftmax.cross_entropy, (a, prob), (m, misaligned(prob)), return_grad=True,
               label_smoothing=0.1)
    xt = np.ascontiguousarray(x.T)   # the class axis first
    _check(csoftmax.cross_entropy, (xt, labels), (misaligned(xt), misaligned(labels)), axis=0,
           return_grad=True)
    _check(csoftmax.nll_loss, (x, labels), (misaligned(x), misaligned(labels)),
           weight=misaligned(weight))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["softmax_backward", "log_softmax_backward"])
def test_backward(isa, func, dtype):
    rng = np.random.default_rng(3)
    g = rng.standard_normal((40, 300)).astype(dtype)
    y = csoftmax.softmax(rng.standard_normal((40, 300)).astype(dtype))
    if func == "log_softmax_backward":
        y = np.log(y)
    fn = getattr(csoftmax, func)
    for (ag, mg), (ay, my) in zip(layout_pairs(g), layout_pairs(y)):
        for axis in (-1, 0):
            _check(fn, (ag, ay), (mg, my), axis=axis)
    out = misaligned(np.zeros_like(g))
    assert fn(g, y, out=out) is out
    np.testing.assert_array_equal(out, fn(g, y))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["sigmoid", "log_sigmoid"])
def test_sigmoid_family(isa, func, dtype):
    x = (np.random.default_rng(4).standard_normal((31, 67)) * 20).astype(dtype)
    fn = getattr(csoftmax, func)
    for a, m in layout_pairs(x):
        _check(fn, (a,), (m,))
    out = misaligned(np.zeros_like(x))
    assert fn(x, out=out) is out
    np.testing.assert_array_equal(out, fn(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy(isa, dtype):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((31, 67)) * 5).astype(dtype)
    t = rng.uniform(0, 1, x.shape).astype(dtype)
    w = rng.uniform(0, 2, x.shape).astype(dtype)
    for (ax, mx), (at, mt) in zip(layout_pairs(x), layout_pairs(t)):
        for reduction in ("mean", "none"):
            _check(csoftmax.binary_cross_entropy, (ax, at), (mx, mt), reduction=reduction,
                   return_grad=True)
            _check(csoftmax.binary_cross_entropy, (ax, at), (mx, mt), weight=misaligned(w),
                   reduction=reduction, return_grad=True)
    _check(csoftmax.binary_cross_entropy, (x, t), (misaligned(x), misaligned(t)),
           weight=misaligned(w[0]))   # broadcast weight row
