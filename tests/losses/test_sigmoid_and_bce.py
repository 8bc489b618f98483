"""Tests of sigmoid, log_sigmoid and binary_cross_entropy (every impl)."""

import numpy as np
import pytest

from helpers import binary_cross_entropy_oracle, no_warnings, numeric_grad

# --------------------------------------------------------------------------
# sigmoid / log_sigmoid
# --------------------------------------------------------------------------


def test_sigmoid_values(impl):
    sig = impl.sigmoid
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sig(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    # Lower tail: exp(x) / (1 + exp(x)) keeps full relative accuracy.
    np.testing.assert_allclose(sig(-40.0), np.exp(-40) / (1 + np.exp(-40)),
                               rtol=1e-15)
    np.testing.assert_allclose(sig(np.float32(-80.0)), np.exp(-80.0),
                               rtol=1e-6)
    assert sig(0.0) == 0.5


def test_sigmoid_extremes_without_warnings(impl):
    sig = impl.sigmoid
    with no_warnings():
        r = sig(np.array([-1000.0, 1000.0, -np.inf, np.inf, np.nan]))
        r32 = sig(np.array([-1000.0, 1000.0], np.float32))
    np.testing.assert_array_equal(r[:4], [0.0, 1.0, 0.0, 1.0])
    assert np.isnan(r[4])
    np.testing.assert_array_equal(r32, [0.0, 1.0])


def test_log_sigmoid_values(impl):
    ls = impl.log_sigmoid
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(ls(x), -np.log1p(np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(ls(0.0), -np.log(2.0), rtol=1e-15)
    # Upper tail: -log1p(exp(-40)) = -exp(-40) to full precision.
    np.testing.assert_allclose(ls(40.0), -np.exp(-40.0), rtol=1e-15)
    with no_warnings():
        r = ls(np.array([-1000.0, 1000.0, -np.inf, np.inf, np.nan]))
        r32 = ls(np.array([-1000.0], np.float32))
    assert r[0] == -1000.0 and r[1] == 0.0 and r[2] == -np.inf
    assert r[3] == 0.0 and np.isnan(r[4])
    assert r32[0] == -1000.0 and r32.dtype == np.float32


@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid"])
def test_sigmoid_dtypes_and_out(impl, name):
    fn = getattr(impl, name)
    x = np.array([[-3.0, 0.5], [2.0, -0.25]])
    want = fn(x)
    assert fn(x.astype(np.float32)).dtype == np.float32
    r16 = fn(x.astype(np.float16))
    assert r16.dtype == np.float16
    np.testing.assert_allclose(r16, want, rtol=1e-3)
    np.testing.assert_array_equal(fn(np.array([[-3, 1], [2, 0]])),
                                  fn(np.array([[-3.0, 1.0], [2.0, 0.0]])))
    out = np.empty_like(x)
    assert fn(x, out=out) is out
    np.testing.assert_array_equal(out, want)
    y = x.copy()
    assert fn(y, out=y) is y  # in place
    np.testing.assert_array_equal(y, want)
    with pytest.raises(ValueError):
        fn(x, out=np.empty(4))
    with pytest.raises(TypeError):
        fn(x, out=np.empty((2, 2), np.float32))
    frozen = np.empty_like(x)
    frozen.setflags(write=False)
    with pytest.raises(ValueError):
        fn(x, out=frozen)
    with pytest.raises(TypeError):
        fn(x.astype(complex))
    xr = x.copy()
    xr.setflags(write=False)
    fn(xr)
    np.testing.assert_array_equal(xr, x)


# --------------------------------------------------------------------------
# binary_cross_entropy
# --------------------------------------------------------------------------

def _case(shape=(4, 3), seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=3.0, size=shape), rng.uniform(size=shape)


WEIGHTS = {
    "none": None,
    "full": lambda s: np.random.default_rng(9).uniform(0.5, 2, s),
    "row": lambda s: np.random.default_rng(9).uniform(0.5, 2, s[-1:]),
    "col": lambda s: np.random.default_rng(9).uniform(0.5, 2, s[:1] + (1,)),
    "scalar": lambda s: 2.5,
}


@pytest.mark.parametrize("weight", list(WEIGHTS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_value_and_grad(impl, weight, reduction):
    bce = impl.binary_cross_entropy
    x, t = _case()
    w = None if WEIGHTS[weight] is None else WEIGHTS[weight](x.shape)
    loss, grad = bce(x, t, weight=w, reduction=reduction, return_grad=True)
    want = binary_cross_entropy_oracle(x, t, w, reduction)
    np.testing.assert_allclose(loss, want, rtol=1e-13)
    assert np.shape(loss) == np.shape(want)
    assert grad.shape == x.shape and grad.dtype == np.float64
    fd = numeric_grad(lambda z: np.sum(bce(z, t, weight=w,
                                           reduction=reduction)), x)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-10)
    # Closed form: weight * (sigmoid(x) - t) / count for "mean".
    closed = (1 if w is None else w) * (1 / (1 + np.exp(-x)) - t)
    closed = closed / x.size if reduction == "mean" else closed
    np.testing.assert_allclose(grad, closed, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_bce_low_precision(impl, dtype):
    bce = impl.binary_cross_entropy
    x, t = _case()
    loss, grad = bce(x.astype(dtype), t.astype(dtype), return_grad=True)
    assert isinstance(loss, dtype) and grad.dtype == dtype
    tol = 2e-3 if dtype == np.float16 else 2e-6
    x64 = x.astype(dtype).astype(np.float64)
    t64 = t.astype(dtype).astype(np.float64)
    want, gwant = bce(x64, t64, return_grad=True)
    np.testing.assert_allclose(loss, want, rtol=tol)
    np.testing.assert_allclose(grad, gwant, rtol=tol, atol=tol * 1e-2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_large_logits_are_finite(impl, dtype):
    bce = impl.binary_cross_entropy
    x = np.array([1e4, -1e4, 1e4, -1e4, 50.0], dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype)
    with no_warnings():
        loss, grad = bce(x, t, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss[:4], [0.0, 0.0, 1e4, 1e4])
    # log1p(exp(-50)) = exp(-50) to full precision (no x - x*t rounding).
    np.testing.assert_allclose(loss[4], np.exp(-50.0), rtol=1e-6)
    np.testing.assert_array_equal(grad[:4], [0.0, 0.0, 1.0, -1.0])
    np.testing.assert_allclose(grad[4], -np.exp(-50.0), rtol=1e-6)


def test_bce_infinite_logits_give_the_limit(impl):
    bce = impl.binary_cross_entropy
    x = np.array([np.inf, -np.inf, np.inf, -np.inf])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    with no_warnings():
        loss, grad = bce(x, t, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss, [0.0, 0.0, np.inf, np.inf])
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0, -1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_zero_weight_wins(impl, isa, dtype):
    """A zero weight gives a zero loss whatever the logit (NaN and infinities included), as a
    zero coefficient does in cross_entropy; other entries keep their NaN. Lanes of every vector
    position and a tail (n = 37)."""
    bce = impl.binary_cross_entropy
    x = np.linspace(-5, 5, 37).astype(dtype)
    x[[3, 20, 36]] = [np.nan, np.inf, -np.inf]
    x[5] = np.nan
    t = np.full_like(x, 0.25)
    w = np.ones_like(x)
    w[[3, 20, 36]] = 0
    with no_warnings():
        loss = bce(x, t, weight=w, reduction="none")
        total = bce(np.delete(x, 5), np.delete(t, 5), weight=np.delete(w, 5), reduction="sum")
    assert loss[3] == loss[20] == loss[36] == 0
    assert np.isnan(loss[5]) and np.isfinite(np.delete(loss, [5])).all()
    assert np.isfinite(total)


def test_bce_hard_targets_are_minus_log_sigmoid(impl):
    bce, ls = impl.binary_cross_entropy, impl.log_sigmoid
    x = np.linspace(-60, 60, 41)
    np.testing.assert_allclose(bce(x, np.ones_like(x), reduction="none"),
                               -ls(x), rtol=1e-14)
    np.testing.assert_allclose(bce(x, np.zeros_like(x), reduction="none"),
                               -ls(-x), rtol=1e-14)


def test_bce_empty_and_scalar(impl):
    bce = impl.binary_cross_entropy
    with no_warnings():
        loss, grad = bce(np.zeros(0), np.zeros(0), return_grad=True)
        assert np.isnan(loss) and grad.shape == (0,)
        assert bce(np.zeros((0, 2)), np.zeros((0, 2)), reduction="sum") == 0.0
        assert bce(np.zeros((0, 2)), np.zeros((0, 2)),
                   reduction="none").shape == (0, 2)
    np.testing.assert_allclose(bce(0.0, 1.0), np.log(2.0), rtol=1e-15)


def test_bce_bad_input(impl):
    bce = impl.binary_cross_entropy
    x = np.zeros((2, 3))
    with pytest.raises(ValueError):
        bce(x, np.zeros((3, 2)))
    with pytest.raises(ValueError):
        bce(x, np.zeros((1, 3)))       # broadcastable is not enough
    with pytest.raises(ValueError):
        bce(x, np.zeros((2, 3)), weight=np.ones(2))
    with pytest.raises(ValueError):
        bce(x, np.zeros((2, 3)), weight=np.ones((2, 2, 3)))
    with pytest.raises(ValueError):
        bce(x, np.zeros((2, 3)), reduction="avg")
    with pytest.raises(TypeError):
        bce(x.astype(complex), np.zeros((2, 3)))
    with pytest.raises(TypeError):
        bce(x, np.zeros((2, 3), complex))
    with pytest.raises(TypeError):
        bce(x.astype(object), np.zeros((2, 3)))


def test_bce_inputs_unmodified(impl):
    bce = impl.binary_cross_entropy
    x, t = _case()
    w = np.linspace(1, 2, 3)
    copies = [a.copy() for a in (x, t, w)]
    for a in (x, t, w):
        a.setflags(write=False)
    for reduction in ("mean", "sum", "none"):
        bce(x, t, weight=w, reduction=reduction, return_grad=True)
    for a, c in zip((x, t, w), copies):
        np.testing.assert_array_equal(a, c)
