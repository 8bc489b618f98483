"""The statistics of rows split into chunks, on NumPy arrays (no engine): softmax_stats,
combine_softmax_stats, softmax_from_stats, log_softmax_from_stats, logsumexp_from_stats and
cross_entropy_from_stats, fast against reference and against the one-machine functions, on
every instruction set."""
import importlib

import numpy as np
import pytest

from helpers import assert_matches, draw, fast_module, max_rel_diff, run_doctests

csoftmax = fast_module()
ref = importlib.import_module("csoftmax.reference")


def rows(dtype, n=17, c=50, seed=0):
    x = draw((n, c), dtype, seed=seed, scale=4)
    x[1, 40] = np.nan
    x[2, :] = -np.inf
    x[3, 7] = np.inf
    x[4, :35] = -np.inf
    x[5, :] = -40.0
    x[5, 45] = 0.0
    x[6, 3] = np.nan
    x[6, 4] = np.inf
    x[7, 20] = 1000.0                   # past the floating-point pivot
    x[8, :] = x[8, 0]                   # all ties
    return x


def split(impl, x, bounds, axis=1):
    parts = np.split(x, bounds, axis=axis)
    st = [impl.softmax_stats(p, axis=axis) for p in parts]
    stats = impl.combine_softmax_stats(np.stack([s.max for s in st]),
                                       np.stack([s.excess for s in st]))
    return parts, stats


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bounds", [[], [25], [0, 3, 3, 20, 49, 50]])
def test_split_rows_equal_one_machine(isa, dtype, bounds):
    x = rows(dtype)
    for impl in (csoftmax, ref):
        parts, stats = split(impl, x, bounds)
        y = np.concatenate([impl.softmax_from_stats(p, stats) for p in parts], axis=1)
        ly = np.concatenate([impl.log_softmax_from_stats(p, stats) for p in parts], axis=1)
        assert_matches("softmax", y, csoftmax.softmax(x), x)
        assert_matches("log_softmax", ly, csoftmax.log_softmax(x), x)
        lse = impl.logsumexp_from_stats(stats, x.dtype)
        assert_matches("logsumexp", lse, csoftmax.logsumexp(x), x)
        # relative accuracy near 0 kept through the split
        assert max_rel_diff(ly[5, 45], csoftmax.log_softmax(x)[5, 45]) < 8 * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_chunk_streamed(isa, dtype):
    """A chunk's softmax of 16 MB or more is written with non-temporal stores: the same bits as
    parts under 16 MB written plainly, special rows included."""
    x = np.tile(rows(dtype, n=17, c=64), (130 if dtype == np.float32 else 65, 36))   # >= 16 MB
    stats = csoftmax.softmax_stats(x)
    streamed = csoftmax.softmax_from_stats(x, stats)
    assert x.nbytes >= 16 << 20 and streamed.ctypes.data % 64 == 0
    parts = [x[i:i + 100] for i in range(0, x.shape[0], 100)]   # each under 16 MB
    plain = np.concatenate([csoftmax.softmax_from_stats(p, csoftmax.softmax_stats(p)) for p in parts])
    np.testing.assert_array_equal(streamed, plain)
    assert_matches("softmax", streamed, csoftmax.softmax(x), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stats_fast_against_reference(isa, dtype):
    x = rows(dtype)
    for axis, keepdims in [(-1, False), (0, True), (1, True)]:
        got = csoftmax.softmax_stats(x, axis=axis, keepdims=keepdims)
        want = ref.softmax_stats(x, axis=axis, keepdims=keepdims)
        np.testing.assert_array_equal(got.max, want.max)
        np.testing.assert_allclose(got.excess, want.excess, rtol=1e-6 if dtype == np.float32
                                   else 1e-14, atol=0, equal_nan=True)
    empty = csoftmax.softmax_stats(np.zeros((3, 0), dtype))
    assert (empty.max == -np.inf).all() and (empty.excess == -1).all()
    assert csoftmax.softmax_stats(np.zeros((0, 4), dtype)).max.shape == (0,)


def test_combine():
    s = csoftmax.combine_softmax_stats([[0.0], [-40.0]], [[0.0], [0.0]])
    assert s.excess[0] == pytest.approx(np.exp(-40.0), rel=1e-15)        # not lost to 1 + tiny
    # any tree gives the flat combination
    rng = np.random.default_rng(3)
    m, e = rng.standard_normal((9, 5)) * 3, rng.random((9, 5)) * 4
    flat = csoftmax.combine_softmax_stats(m, e)
    a = csoftmax.combine_softmax_stats(m[:4], e[:4], keepdims=True)
    b = csoftmax.combine_softmax_stats(m[4:], e[4:], keepdims=True)
    tree = csoftmax.combine_softmax_stats(np.concatenate([a.max, b.max]),
                                          np.concatenate([a.excess, b.excess]))
    np.testing.assert_array_equal(tree.max, flat.max)
    np.testing.assert_allclose(tree.excess, flat.excess, rtol=1e-14)
    # -inf parts add nothing; a NaN part makes the row NaN; +inf wins
    s = csoftmax.combine_softmax_stats([[-np.inf, 1.0, -np.inf], [-np.inf, -np.inf, np.inf]],
                                       [[-1.0, 0.5, np.nan], [-1.0, -1.0, 0.0]])
    np.testing.assert_array_equal(s.max, [-np.inf, 1.0, np.inf])
    np.testing.assert_array_equal(s.excess, [-1.0, 0.5, np.nan])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, dict(label_smoothing=0.2), dict(ignore_index=5),
                                dict(weight=np.linspace(2.0, 0.0, 50), label_smoothing=0.1)])
def test_cross_entropy_from_stats(isa, dtype, kw):
    x = rows(dtype)
    t = np.random.default_rng(2).integers(0, 50, len(x))
    t[[5, 9]] = [45, kw.get("ignore_index", -100)]
    bounds = [0, 10, 10, 31, 50]
    parts, stats = split(csoftmax, x, bounds[1:-1])
    out = [csoftmax.cross_entropy_from_stats(p, t, stats, class_offset=o, num_classes=50,
                                             return_grad=True, grad_scale=0.5, **kw)
           for p, o in zip(parts, bounds)]
    loss = sum(o[0] for o in out)
    grad = np.concatenate([o[1] for o in out], axis=1)
    want_loss, want_grad = csoftmax.cross_entropy(x, t, reduction="none", return_grad=True, **kw)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6 if dtype == np.float32 else 1e-13,
                               equal_nan=True)
    np.testing.assert_allclose(grad, 0.5 * want_grad, rtol=64 * eps, atol=16 * eps,
                               equal_nan=True)
    assert loss[5] > 0 and loss[9] == 0 and (grad[9] == 0).all()
    with pytest.raises(IndexError):
        csoftmax.cross_entropy_from_stats(x[:, :10], np.full(len(x), 50), stats, num_classes=50)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_from_stats_probabilities(isa, dtype):
    x = rows(dtype)
    q = csoftmax.softmax(rows(np.float64, seed=4)).astype(dtype)
    q[~np.isfinite(q)] = 0.25
    kw = dict(weight=np.linspace(2.0, 0.0, 50), label_smoothing=0.1)
    bounds = [0, 10, 10, 31, 50]
    parts, stats = split(csoftmax, x, bounds[1:-1])
    coef = (0.9 * q.astype(np.float64) + 0.1 / 50) * kw["weight"]
    out = [csoftmax.cross_entropy_from_stats(p, qp, stats, class_offset=o, num_classes=50,
                                             return_grad=True, prob_total=coef.sum(axis=1), **kw)
           for p, qp, o in zip(parts, np.split(q, bounds[1:-1], axis=1), bounds)]
    want_loss, want_grad = csoftmax.cross_entropy(x, q, reduction="none", return_grad=True, **kw)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(sum(o[0] for o in out), want_loss, rtol=1e-6 if dtype ==
                               np.float32 else 1e-13, equal_nan=True)
    np.testing.assert_allclose(np.concatenate([o[1] for o in out], axis=1), want_grad,
                               rtol=64 * eps, atol=16 * eps, equal_nan=True)


def test_argument_errors():
    x = rows(np.float64)
    with pytest.raises(ValueError, match="stats.max"):
        csoftmax.softmax_from_stats(x, csoftmax.SoftmaxStats(np.zeros(3), np.zeros(3)))
    kept = csoftmax.softmax_stats(x, keepdims=True)
    assert kept.max.shape == (len(x), 1)
    assert_matches("softmax", csoftmax.softmax_from_stats(x, kept), csoftmax.softmax(x), x)
    half = csoftmax.softmax_from_stats(x.astype(np.float16), csoftmax.softmax_stats(x))
    assert half.dtype == np.float16


@pytest.mark.parametrize("module", ["csoftmax._stats", "csoftmax.reference.stats",
                                    "csoftmax._chunk_losses"])
def test_docstring_examples(module):
    result = run_doctests(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
