"""Tests of softmax_backward and log_softmax_backward (every implementation).

Each backward pass is checked against a fourth-order finite difference of
``sum(grad * f(x))`` with SciPy's softmax/log_softmax as ``f``.
"""

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from helpers import no_warnings, numeric_grad

FORWARD = {"softmax_backward": softmax, "log_softmax_backward": log_softmax}
NAMES = list(FORWARD)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape,axis", [((6,), 0), ((3, 5), 0), ((3, 5), 1),
                                        ((3, 5), -1), ((2, 3, 4), 0),
                                        ((2, 3, 4), 1), ((2, 3, 4), -1)])
def test_matches_finite_difference(impl, name, shape, axis):
    backward, forward = getattr(impl, name), FORWARD[name]
    rng = np.random.default_rng(1)
    x = rng.normal(scale=2.0, size=shape)
    g = rng.normal(size=shape)
    dx = backward(g, forward(x, axis=axis), axis)
    assert dx.dtype == np.float64 and dx.shape == shape
    fd = numeric_grad(lambda z: np.sum(g * forward(z, axis=axis)), x)
    np.testing.assert_allclose(dx, fd, rtol=1e-7, atol=1e-10)


def test_literal_values(impl):
    sb, lsb = impl.softmax_backward, impl.log_softmax_backward
    y = np.array([0.25, 0.25, 0.5])
    # J = diag(y) - y y^T, so dx = y * (g - y.g) = [3/16, -1/16, -1/8].
    np.testing.assert_allclose(sb(np.array([1.0, 0.0, 0.0]), y),
                               [0.1875, -0.0625, -0.125], rtol=1e-15)
    # d(-log y_0)/dx = softmax - onehot.
    np.testing.assert_allclose(lsb(np.array([-1.0, 0.0, 0.0]), np.log(y)),
                               [-0.75, 0.25, 0.5], rtol=1e-15)


def test_log_softmax_backward_minus_inf(impl):
    lsb = impl.log_softmax_backward
    y = np.array([[0.0, -np.inf], [-np.log(2), -np.log(2)]])
    with no_warnings():
        dx = lsb(np.ones((2, 2)), y)
    np.testing.assert_allclose(dx, [[-1.0, 1.0], [0.0, 0.0]], atol=1e-16)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtypes,result", [
    ((np.float32, np.float32), np.float32),
    ((np.float64, np.float64), np.float64),
    ((np.float32, np.float64), np.float64),
    ((np.float16, np.float16), np.float16),
    ((np.float16, np.float32), np.float32),
    ((np.int64, np.float64), np.float64),
    ((np.int32, np.int32), np.float64),
])
def test_result_dtype(impl, name, dtypes, result):
    backward, forward = getattr(impl, name), FORWARD[name]
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 6))
    g = rng.normal(size=(4, 6)) * 3
    y = forward(x, axis=1)
    gd, yd = dtypes
    if "i" in (np.dtype(gd).kind, np.dtype(yd).kind):
        g, y = np.round(g), np.round(y * 3)  # exactly representable ints
    g, y = g.astype(gd), y.astype(yd)
    want = backward(g.astype(np.float64), y.astype(np.float64), 1)
    got = backward(g, y, 1)
    assert got.dtype == result
    tol = {np.float16: 5e-3, np.float32: 1e-5, np.float64: 1e-13}[result]
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", NAMES)
def test_out_argument(impl, name):
    backward, forward = getattr(impl, name), FORWARD[name]
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4))
    g = rng.normal(size=(3, 4))
    y = forward(x, axis=0)
    want = backward(g, y, 0)
    out = np.empty((3, 4))
    assert backward(g, y, 0, out=out) is out
    np.testing.assert_array_equal(out, want)
    # out may alias either input.
    g2, y2 = g.copy(), y.copy()
    assert backward(g2, y2, 0, out=g2) is g2
    np.testing.assert_array_equal(g2, want)
    g2, y2 = g.copy(), y.copy()
    assert backward(g2, y2, 0, out=y2) is y2
    np.testing.assert_array_equal(y2, want)
    # float32 inputs need a float32 out.
    out32 = np.empty((3, 4), np.float32)
    backward(g.astype(np.float32), y.astype(np.float32), 0, out=out32)
    np.testing.assert_allclose(out32, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_bad_out(impl, name):
    backward = getattr(impl, name)
    g = np.ones((2, 3))
    y = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError):
        backward(g, y, out=np.empty((3, 2)))
    with pytest.raises(TypeError):
        backward(g, y, out=np.empty((2, 3), np.float32))
    with pytest.raises(TypeError):
        backward(g, y, out=[[0.0] * 3] * 2)
    frozen = np.empty((2, 3))
    frozen.setflags(write=False)
    with pytest.raises(ValueError):
        backward(g, y, out=frozen)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input(impl, name):
    backward = getattr(impl, name)
    with pytest.raises(ValueError):
        backward(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError):
        backward(np.ones((2, 3)), np.ones(3))
    with pytest.raises(TypeError):
        backward(np.ones((2, 3), complex), np.ones((2, 3)))
    with pytest.raises(TypeError):
        backward(np.ones((2, 3)), np.array([["a"] * 3] * 2))
    with pytest.raises(ValueError):
        backward(np.ones((2, 3)), np.ones((2, 3)), 2)


@pytest.mark.parametrize("name", NAMES)
def test_inputs_unmodified(impl, name):
    backward, forward = getattr(impl, name), FORWARD[name]
    rng = np.random.default_rng(5)
    g = rng.normal(size=(3, 4))
    y = forward(rng.normal(size=(3, 4)), axis=-1)
    g0, y0 = g.copy(), y.copy()
    g.setflags(write=False)
    y.setflags(write=False)
    backward(g, y)
    backward(g, y, 0)
    np.testing.assert_array_equal(g, g0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("name", NAMES)
def test_empty(impl, name):
    backward = getattr(impl, name)
    assert backward(np.ones((0, 3)), np.ones((0, 3))).shape == (0, 3)
    assert backward(np.ones((2, 0)), np.ones((2, 0))).shape == (2, 0)
