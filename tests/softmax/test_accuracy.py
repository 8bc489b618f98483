"""Accuracy of the fast module against a long-double oracle, on every dispatch path.

The oracle evaluates the same (already rounded) inputs in ``np.longdouble`` (64-bit
mantissa on x86), so its own error is negligible at the tolerances below:

* float32 softmax: relative error <= 1e-6 wherever the true value >= 2.4e-38 (twice the
  smallest normal, below which the exps flush to 0); below it, absolute error <= 2.4e-38;
  exactly 0 for -inf logits.
* float64 softmax: relative error <= 2e-14 + 1e-16 * sqrt(n) (n = row length).
* log_softmax and logsumexp: absolute error <= 4 * eps * max(|x|, |result|, 1), with |x|
  the largest finite magnitude in the row.
* logsumexp just above 0 (rows whose max is 0): relative error <= 8 * eps.
"""

import functools
import math

import numpy as np
import pytest

WIDE = np.finfo(np.longdouble).eps < 1e-18  # false where long double is just float64
ROW_GROUPS = {  # name -> (row lengths, rows per length)
    "short": (tuple(range(1, 34)), 16),
    "1000": ((1000,), 64),
    "30576": ((30576,), 4),
    "2**20": ((2**20,), 1),
}
DISTRIBUTIONS = ["normal1", "normal10", "uniform100", "uniform1e4"]


def _draw(rng, dist, shape):
    if dist == "normal1":
        return rng.normal(0.0, 1.0, shape)
    if dist == "normal10":
        return rng.normal(0.0, 10.0, shape)
    if dist == "uniform100":
        return rng.uniform(-100.0, 100.0, shape)
    return rng.uniform(-1e4, 1e4, shape)


@functools.cache
def case(dist, group, dtype_name):
    """[(x, oracle)] for each row length of `group`; x gets ~2% -inf entries (never the max).

    oracle = (softmax, log_softmax, logsumexp) in long double. Cached: the same inputs serve
    every ISA and function.
    """
    dtype = np.dtype(dtype_name)
    lengths, nrows = ROW_GROUPS[group]
    seed = [DISTRIBUTIONS.index(dist), len(lengths), lengths[0], dtype.itemsize]
    rng = np.random.default_rng(seed)
    out = []
    for n in lengths:
        x = _draw(rng, dist, (nrows, n)).astype(dtype)
        if n > 1:
            holes = rng.random((nrows, n)) < 0.02
            holes[np.arange(nrows), np.argmax(x, axis=1)] = False
            x[holes] = -np.inf
        x.flags.writeable = False
        out.append((x, _oracle(x)))
    return out


def _oracle(x):
    xl = x.astype(np.longdouble)
    m = np.max(xl, axis=1, keepdims=True)
    d = xl - m
    e = np.exp(d)
    s = np.sum(e, axis=1, keepdims=True)
    log_s = np.log(s)
    return e / s, d - log_s, (m + log_s)[:, 0]


def _row_scale(x):
    finite_abs = np.where(np.isfinite(x), np.abs(x.astype(np.float64)), 0.0)
    return np.max(finite_abs, axis=1, keepdims=True)


def _skip_if_oracle_too_coarse(dtype):
    if dtype == np.float64 and not WIDE:
        pytest.skip("np.longdouble is no wider than float64 here: no float64 oracle")


DTYPES = [np.float32, np.float64]
CASES = pytest.mark.parametrize("group", list(ROW_GROUPS))
DISTS = pytest.mark.parametrize("dist", DISTRIBUTIONS)
TYPES = pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])


@TYPES
@DISTS
@CASES
def test_softmax_accuracy(fast, isa, dtype, dist, group):
    _skip_if_oracle_too_coarse(dtype)
    info = np.finfo(dtype)
    for x, (p, _, _) in case(dist, group, np.dtype(dtype).name):
        n = x.shape[1]
        got = fast.softmax(x)
        assert got.dtype == dtype
        assert (got[np.isneginf(x)] == 0).all(), f"n={n}: -inf logits must give exactly 0"
        rel_tol = 1e-6 if dtype == np.float32 else 2e-14 + 1e-16 * math.sqrt(n)
        normal = p >= 2 * info.tiny   # below, the exps flush to 0 (src/core/csm_exp.h)
        err = np.abs(got.astype(np.longdouble) - p)
        rel = np.where(normal, err / np.where(normal, p, 1), 0)
        assert rel.max() <= rel_tol, (
            f"n={n}: max relative error {float(rel.max()):.3g} > {rel_tol:.3g}"
        )
        tiny_err = np.where(normal, 0, err).max()
        assert tiny_err <= 2 * info.tiny, (
            f"n={n}: max absolute error below the normal range {float(tiny_err):.3g}"
        )


@TYPES
@DISTS
@CASES
def test_log_softmax_accuracy(fast, isa, dtype, dist, group):
    _skip_if_oracle_too_coarse(dtype)
    eps = float(np.finfo(dtype).eps)
    for x, (_, logp, _) in case(dist, group, np.dtype(dtype).name):
        n = x.shape[1]
        got = fast.log_softmax(x)
        assert got.dtype == dtype
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(x), err_msg=f"n={n}: -inf")
        finite = np.isfinite(x)
        tol = 4 * eps * np.maximum(np.maximum(_row_scale(x), np.abs(logp)), 1.0)
        with np.errstate(invalid="ignore"):  # -inf - -inf where x is -inf
            excess = np.where(finite, np.abs(got.astype(np.longdouble) - logp) / tol, 0)
        assert excess.max() <= 1, (
            f"n={n}: max error {float(excess.max()):.3g} x the tolerance 4 eps max(|x|, |y|, 1)"
        )


@TYPES
@DISTS
@CASES
def test_logsumexp_accuracy(fast, isa, dtype, dist, group):
    _skip_if_oracle_too_coarse(dtype)
    eps = float(np.finfo(dtype).eps)
    for x, (_, _, lse) in case(dist, group, np.dtype(dtype).name):
        n = x.shape[1]
        got = fast.logsumexp(x)
        assert got.dtype == dtype and got.shape == (x.shape[0],)
        tol = 4 * eps * np.maximum(np.maximum(_row_scale(x)[:, 0], np.abs(lse)), 1.0)
        excess = np.abs(got.astype(np.longdouble) - lse) / tol
        assert excess.max() <= 1, (
            f"n={n}: max error {float(excess.max()):.3g} x the tolerance 4 eps max(|x|, |lse|, 1)"
        )


@TYPES
@pytest.mark.parametrize("n", [2, 3, 8, 17, 33, 1000, 30576])
def test_logsumexp_relative_accuracy_near_zero(fast, isa, dtype, n):
    # One entry at 0, the rest far below: the result is a tiny positive number that must keep
    # its relative accuracy (log1p of the non-max part, not log(1 + tiny)).
    _skip_if_oracle_too_coarse(dtype)
    eps = float(np.finfo(dtype).eps)
    rng = np.random.default_rng(n)
    lo = 60.0 if dtype == np.float32 else 600.0
    x = -rng.uniform(20.0, lo, (8, n)).astype(dtype)
    x[np.arange(8), rng.integers(0, n, 8)] = 0
    xl = x.astype(np.longdouble)
    expected = np.log1p(np.sum(np.where(xl < 0, np.exp(xl), 0), axis=1))
    got = fast.logsumexp(x)
    assert (got > 0).all()
    rel = np.abs(got.astype(np.longdouble) - expected) / expected
    assert rel.max() <= 8 * eps, f"n={n}: max relative error {float(rel.max()):.3g}"


@TYPES
@pytest.mark.parametrize("axis", [-1, 0], ids=["rows", "columns"])
@pytest.mark.parametrize("ones", ["first", "every64"])
def test_small_terms_against_a_lane_holding_one(fast, isa, dtype, axis, ones):
    """Every small term rounds away when added to a lane that already holds the max's exp (1),
    unlike random rows whose rounding errors cancel: the sum's error is set by how many terms a
    lane adds before its partial sum is flushed into a double. Row kernels (a row across the
    lanes) see it with the 32 maxima first, column kernels (a column down one lane) with one
    maximum in every 64. Measured in float32 with flushes every 8 terms: 4.4e-7 at most (rows on
    AVX-512, columns on every build); flushed every 64 terms: 3.7e-6 (1.8e-6 rows on AVX2)."""
    _skip_if_oracle_too_coarse(dtype)
    eps = float(np.finfo(dtype).eps) / 2               # 2**-24, 2**-53
    row = np.full(2048, np.log(0.99 * eps), dtype)
    if ones == "first":
        row[:32] = 0
    else:
        row[::64] = 0                                  # 32 maxima too
    p, logp, lse = (v[0] for v in _oracle(row[None, :]))
    x = row[None, :] if axis == -1 else np.repeat(row[:, None], 3, axis=1)
    along = (lambda v: v[None, :]) if axis == -1 else (lambda v: v[:, None])  # noqa: E731
    bound = 1e-6 if dtype == np.float32 else 2e-14

    def rel(got, want):
        return (np.abs(np.asarray(got, np.longdouble) / want - 1)).max()

    assert rel(fast.softmax(x, axis=axis), along(p)) <= bound
    assert rel(fast.log_softmax(x, axis=axis), along(logp)) <= bound
    assert rel(fast.logsumexp(x, axis=axis), lse) <= bound
    if axis == -1:
        loss, grad = fast.cross_entropy(x, [0], return_grad=True)
        assert rel(loss, lse) <= bound                  # x[0] = 0: the loss is the logsumexp
        assert rel(grad[0, 1:], p[1:]) <= bound
        assert rel(grad[0, 0], p[0] - 1) <= bound
