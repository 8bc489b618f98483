"""log_sigmoid and binary_cross_entropy kernels on every ISA: accuracy over the whole range of
logits against a higher-precision oracle, tails (n % lanes), special values, and the precision of
the wide loss sum.

The kernels compute each element in the input's dtype with vector exp/log1p. Measured maximum
relative errors over the values below (every ISA alike): float32 2.6e-7 (log_sigmoid and BCE
loss), 2.0e-7 (gradient); float64 5.4e-16 and 4.0e-16. The tolerances leave a margin over these.
"""

import math

import numpy as np
import pytest

RTOL = {np.float32: 3.5e-7, np.float64: 1e-15}
DTYPES = [np.float32, np.float64]
# Every ISA's lanes +-1 (4..16 float32, 2..8 float64), around the sum's flush every 8 vectors,
# and a long row with a ragged tail.
LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 128, 129, 1003]


def _wide(dt):
    """The oracle's type: float64 for float32 inputs; long double (if wider) for float64."""
    return np.float64 if dt == np.float32 else np.longdouble


def _logits(dt):
    """-1e4..1e4: dense near 0, tiny, subnormal, and large (exp(-|x|) flushes to 0)."""
    fi = np.finfo(dt)
    pos = np.concatenate([
        np.geomspace(fi.smallest_subnormal, fi.tiny, 40),
        np.geomspace(fi.tiny, 1e-3, 400),
        np.linspace(0, 1, 2001)[1:],
        np.linspace(1, 30, 2000),
        np.geomspace(30, 1e4, 500),
        np.random.default_rng(1).uniform(0, 120, 3000),
        np.random.default_rng(2).uniform(0, 800, 1000),
    ]).astype(dt)
    x = np.concatenate([pos, -pos, np.zeros(1, dt)])
    return np.random.default_rng(3).permutation(x)  # mix the ranges across lanes


def _assert_close(got, want, scale, rtol, dt):
    """|got - want| <= rtol * scale where scale is at least twice the smallest normal of dt;
    below that (exps flush to 0 there, subnormal inputs read as 0: src/core/csm_exp.h,
    src/dispatch/csm_fpenv.h) an absolute error under twice the smallest normal."""
    got = got.astype(want.dtype)
    err = np.abs(got - want)
    tiny = 2 * np.finfo(dt).tiny
    normal = scale >= tiny
    bad = np.where(normal, err > rtol * scale, err >= tiny)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} off, worst relative error "
        f"{float(np.max(np.where(normal, err / np.where(normal, scale, 1), 0))):.3g} "
        f"(rtol {rtol:g})")


def _log_sigmoid_oracle(x):
    xw = x.astype(_wide(x.dtype))
    return np.minimum(xw, 0) - np.log1p(np.exp(-np.abs(xw)))


def _bce_oracle(x, t):
    """Per-element loss, sigmoid(x) - t, and the size of the terms of the latter (its error
    scale: the difference of two terms is only as accurate as the terms)."""
    wide = _wide(x.dtype)
    xw, tw = x.astype(wide), t.astype(wide)
    z = np.exp(-np.abs(xw))
    loss = np.where(xw >= 0, xw * (1 - tw), -xw * tw) + np.log1p(z)
    s_neg = z / (1 + z)
    d = np.where(xw >= 0, (1 - tw) - s_neg, s_neg - tw)
    terms = np.where(xw >= 0, np.abs(1 - tw), np.abs(tw)) + s_neg
    return loss, d, terms


@pytest.mark.parametrize("dt", DTYPES)
def test_log_sigmoid_accuracy(fast, isa, dt):
    x = _logits(dt)
    with np.errstate(all="ignore"):
        want = _log_sigmoid_oracle(x)
    got = fast.log_sigmoid(x)
    assert got.dtype == dt
    _assert_close(got, want, np.abs(want), RTOL[dt], dt)


@pytest.mark.parametrize("targets", ["zero", "one", "uniform"])
@pytest.mark.parametrize("dt", DTYPES)
def test_bce_accuracy(fast, isa, dt, targets):
    x = _logits(dt)
    t = {"zero": np.zeros_like(x), "one": np.ones_like(x),
         "uniform": np.random.default_rng(4).uniform(size=x.shape).astype(dt)}[targets]
    with np.errstate(all="ignore"):
        want, d, terms = _bce_oracle(x, t)
    loss, grad = fast.binary_cross_entropy(x, t, reduction="none", return_grad=True)
    _assert_close(loss, want, np.abs(want), RTOL[dt], dt)
    _assert_close(grad, d, terms, RTOL[dt], dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_lanes_and_tails_agree(fast, isa, dt):
    """Each element's result is the same whichever lane or tail it lands in, and the sum covers
    exactly the n elements (no tail lane leaks in)."""
    rng = np.random.default_rng(5)
    x_all = (rng.standard_normal(max(LENGTHS)) * 8).astype(dt)
    t_all = rng.uniform(size=x_all.size).astype(dt)
    w_all = rng.uniform(0, 2, size=x_all.size).astype(dt)
    one = [fast.binary_cross_entropy(x_all[i:i + 1], t_all[i:i + 1], weight=w_all[i:i + 1],
                                     reduction="none", return_grad=True)
           for i in range(x_all.size)]
    loss_1 = np.concatenate([lo for lo, _ in one])
    grad_1 = np.concatenate([g for _, g in one])
    ls_1 = np.concatenate([fast.log_sigmoid(x_all[i:i + 1]) for i in range(x_all.size)])
    for n in LENGTHS:
        x, t, w = x_all[:n], t_all[:n], w_all[:n]
        np.testing.assert_array_equal(fast.log_sigmoid(x), ls_1[:n])
        loss, grad = fast.binary_cross_entropy(x, t, weight=w, reduction="none",
                                               return_grad=True)
        np.testing.assert_array_equal(loss, loss_1[:n])
        np.testing.assert_array_equal(grad, grad_1[:n])
        total = fast.binary_cross_entropy(x, t, weight=w, reduction="sum")
        # float32: partial sums of 8 float32 values per lane, then the result's rounding
        rtol = 4 * np.finfo(dt).eps if dt == np.float32 else 1e-13
        np.testing.assert_allclose(total, math.fsum(loss_1[:n].astype(np.float64)), rtol=rtol)
        # unweighted: the tail's padding lanes (logit 0, loss log 2) must stay out of the sum
        plain = fast.binary_cross_entropy(x, t, reduction="none")
        np.testing.assert_allclose(fast.binary_cross_entropy(x, t, reduction="sum"),
                                   math.fsum(plain.astype(np.float64)), rtol=rtol)
        _, gmean = fast.binary_cross_entropy(x, t, weight=w, return_grad=True)
        np.testing.assert_allclose(gmean, grad_1[:n] / n, rtol=3 * np.finfo(dt).eps)
        # out of place into a tail-sized buffer: nothing written past n
        buf = np.full(n + 1, 7, dt)
        fast.log_sigmoid(x, out=buf[:n])
        assert buf[n] == 7


@pytest.mark.parametrize("dt", DTYPES)
def test_special_values_in_every_lane(fast, isa, dt):
    """inf, NaN and zero weights at each position of vectors and tails; neighbours unaffected."""
    for n in (1, 3, 5, 9, 17, 33):
        for pos in range(n):
            x = np.linspace(-3, 3, n).astype(dt)
            t = np.full(n, 0.25, dt)
            x[pos] = np.nan
            r = fast.log_sigmoid(x)
            assert np.isnan(r[pos]) and not np.isnan(np.delete(r, pos)).any()
            loss, grad = fast.binary_cross_entropy(x, t, reduction="none", return_grad=True)
            assert np.isnan(loss[pos]) and np.isnan(grad[pos])
            assert np.isfinite(np.delete(loss, pos)).all()
            assert np.isfinite(np.delete(grad, pos)).all()
            assert np.isnan(fast.binary_cross_entropy(x, t, reduction="sum"))
            # the loss is the logit's own NaN, sign included
            for nan in (np.nan, -np.nan):
                x[pos] = nan
                got = fast.binary_cross_entropy(x, t, reduction="none")[pos]
                assert np.signbit(got) == np.signbit(x[pos])

    x = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf, -np.inf, 1e4, -1e4, 0.0], dt)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 1.0, 0.5], dt)
    w = np.array([2.0, 2.0, 0.0, 0.0, 0.0, 3.0, 0.0, 1.0, 0.0], dt)
    want_loss = np.array([0.0, 0.0, 0.0, 0.0, 0.0, np.inf, 0.0, 1e4, 0.0], dt)
    want_grad = np.array([0.0, 0.0, 0.0, 0.0, 0.0, -1.5, 0.0, -1.0, 0.0], dt)
    want_ls = np.array([0.0, -np.inf, 0.0, -np.inf, 0.0, -np.inf, 0.0, -1e4, -math.log(2)], dt)
    for n in LENGTHS[:10]:
        reps = -(-n // x.size) + 1
        for shift in range(x.size):  # every special value in every lane
            xs, ts, ws = (np.roll(np.tile(a, reps), shift)[:n] for a in (x, t, w))
            wl, wg, wls = (np.roll(np.tile(a, reps), shift)[:n]
                           for a in (want_loss, want_grad, want_ls))
            loss, grad = fast.binary_cross_entropy(xs, ts, weight=ws, reduction="none",
                                                   return_grad=True)
            np.testing.assert_array_equal(loss, wl)
            np.testing.assert_array_equal(grad, wg)
            np.testing.assert_allclose(fast.log_sigmoid(xs), wls, rtol=2e-7)
            np.testing.assert_array_equal(
                fast.binary_cross_entropy(xs, ts, weight=ws, reduction="sum"),
                dt(math.fsum(wl.astype(np.float64))))
    # a zero weight keeps a finite total away from the infinite loss
    assert fast.binary_cross_entropy(x[:5], t[:5], weight=w[:5], reduction="sum") == 0.0


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_long_float32_sum(fast, isa, reduction, weighted):
    """4 * 10**6 float32 losses summed to the precision of the float32 result (measured 5e-8:
    its rounding); a float32 running sum per lane is off by 3e-6 to 5e-5 here."""
    n = 4 * 10**6 + 3
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(n) * 5).astype(np.float32)
    t = rng.uniform(size=n).astype(np.float32)
    w = rng.uniform(0, 2, size=n).astype(np.float32) if weighted else None
    losses, _, _ = _bce_oracle(x, t)
    if weighted:
        losses = losses * w
    want = math.fsum(losses)
    if reduction == "mean":
        want /= n
    got = fast.binary_cross_entropy(x, t, weight=w, reduction=reduction)
    assert isinstance(got, np.float32)
    np.testing.assert_allclose(float(got), want, rtol=1.2e-7)


def test_long_float64_sum(fast, isa):
    n = 10**6 + 3
    rng = np.random.default_rng(7)
    x = rng.standard_normal(n) * 5
    t = rng.uniform(size=n)
    losses, _, _ = _bce_oracle(x, t)
    np.testing.assert_allclose(fast.binary_cross_entropy(x, t, reduction="sum"),
                               float(np.sum(losses)), rtol=1e-13)
