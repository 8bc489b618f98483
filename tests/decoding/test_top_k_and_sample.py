"""top_k_softmax and sample: the fast kernels against the reference (every dtype, layout, axis
and ISA), the reference against the documented definitions (temperature, then top_k, top_p and
min_p filtering the softmax), and the sampling distribution."""
import numpy as np
import pytest
from scipy import stats
from scipy.special import log_softmax

from csoftmax import reference as ref
from helpers import draw, in_layout

OPTIONS = [dict(), dict(top_k=50), dict(top_p=0.9), dict(min_p=0.05), dict(temperature=0),
           dict(temperature=0.8, top_k=50, top_p=0.95),
           dict(temperature=1.7, top_p=0.3, min_p=0.02), dict(top_k=3, min_p=0.5),
           dict(top_k=10_000), dict(top_k=2000, top_p=0.9), dict(top_p=1.0)]


def logits(shape, dtype=np.float32, seed=0, scale=3.0):
    return draw(shape, dtype, seed=seed, scale=scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 100, 1000, 3000, 8000])
def test_sample_fast_equals_reference(fast, isa, dtype, n):
    x = logits((12, n), dtype)
    for kw in OPTIONS:
        got = fast.sample(x, random_state=5, **kw)
        want = ref.sample(x, random_state=5, **kw)
        # a uniform within rounding of a cumulative boundary may pick the neighbour
        assert (got != want).sum() <= 1, kw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# (1000, 50): the bounded selection; 3000 / 8000 / 40000 with k = 20..50: blocks of 1, 2, 4, 8
# vectors (fewer on shorter rows, as long as there are 2k blocks)
@pytest.mark.parametrize("n,k", [(1, 1), (7, 0), (7, 7), (100, 20), (1000, 50), (3000, 20),
                                 (3000, 1), (8000, 50), (5000, 40), (40000, 20)])
@pytest.mark.parametrize("log", [False, True])
def test_top_k_fast_equals_reference(fast, isa, dtype, n, k, log):
    x = logits((9, n), dtype)
    v, i = fast.top_k_softmax(x, k, temperature=0.8, log=log)
    vr, ir = ref.top_k_softmax(x, k, temperature=0.8, log=log)
    assert v.dtype == dtype and i.dtype == np.int64 and v.shape == i.shape == (9, k)
    np.testing.assert_array_equal(i, ir)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(v, vr, rtol=tol, atol=tol * 10)


def test_top_k_reference_definition():
    x = logits((4, 300), np.float64)
    v, i = ref.top_k_softmax(x, 10, temperature=0.5, log=True)
    ls = log_softmax(x / 0.5, axis=1)
    order = np.argsort(-x, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_allclose(v, np.take_along_axis(ls, order, 1), rtol=1e-12)


def test_top_k_ties_by_lower_index(impl):
    x = np.array([[1.0, 3.0, 3.0, 0.0, 3.0, 2.0]])
    v, i = impl.top_k_softmax(x, 4)
    np.testing.assert_array_equal(i, [[1, 2, 4, 5]])
    assert v[0, 0] == v[0, 1] == v[0, 2]
    assert impl.top_k_softmax(np.zeros((2, 5)), 3)[1].tolist() == [[0, 1, 2]] * 2


def test_top_k_ranked_by_exact_logits(impl):
    """Entries whose probabilities round equal keep the order of their logits (the fast kernels
    ranked by logit and the reference by rounded probability: [2, 0] against [0, 1])."""
    v, i = impl.top_k_softmax(np.array([[0.0, 0.0, 1e-30]]), 2)
    assert i.tolist() == [[2, 0]] and v[0, 0] == v[0, 1]
    # at a huge temperature every z rounds to 0 or nearly: the logits still rank them
    for dtype in (np.float32, np.float64):
        x = np.array([[1.0, 3.0, 2.0, 3.0]], dtype)
        assert impl.top_k_softmax(x, 4, temperature=1e38)[1].tolist() == [[1, 3, 2, 0]]


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("layout", ["C", "F", "step2_last"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
def test_layouts_axes_dtypes(fast, axis, layout, dtype):
    x = in_layout(logits((6, 5, 40), np.float64, scale=2).astype(dtype), layout)
    rdt = np.float64 if dtype == np.int32 else dtype
    v, i = fast.top_k_softmax(x, 3, axis=axis)
    vr, ir = ref.top_k_softmax(x, 3, axis=axis)
    assert v.dtype == vr.dtype == rdt and v.shape == vr.shape == i.shape
    np.testing.assert_array_equal(i, ir)
    np.testing.assert_allclose(v.astype(np.float64), vr.astype(np.float64), rtol=2e-3)
    s = fast.sample(x, axis=axis, top_k=4, top_p=0.9, random_state=1)
    assert s.dtype == np.int64 and s.shape == x.shape[:axis % 3] + x.shape[axis % 3 + 1:]
    np.testing.assert_array_equal(s, ref.sample(x, axis=axis, top_k=4, top_p=0.9,
                                                random_state=1))


def test_bfloat16(impl):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = logits((3, 50), np.float32).astype(ml_dtypes.bfloat16)
    v, i = impl.top_k_softmax(x, 5)
    assert v.dtype == x.dtype
    np.testing.assert_array_equal(i, ref.top_k_softmax(x.astype(np.float32), 5)[1])
    np.testing.assert_array_equal(impl.sample(x, top_p=0.8, random_state=2),
                                  ref.sample(x.astype(np.float32), top_p=0.8, random_state=2))


def test_greedy_and_k1_give_first_argmax(impl):
    x = np.array([[0.0, 5.0, 1.0, 5.0], [-np.inf, 2.0, 2.0, -1.0]])
    for kw in [dict(temperature=0), dict(top_k=1), dict(temperature=0, top_k=3, top_p=0.1)]:
        assert impl.sample(x, random_state=0, **kw).tolist() in ([1, 1], [3, 1], [1, 2], [3, 2])
    assert impl.sample(x, temperature=0).tolist() == [1, 1]
    assert impl.top_k_softmax(x, 1)[1].tolist() == [[1], [1]]
    # k=1 keeps both tied maxima (ties at the boundary are kept)
    draws = {int(impl.sample(x[:1], top_k=1, random_state=s)[0]) for s in range(40)}
    assert draws == {1, 3}


def test_top_k_boundary_ties_kept(impl):
    x = np.array([[4.0, 1.0, 2.0, 2.0, 0.0, 2.0]])
    draws = {int(impl.sample(x, top_k=2, temperature=3.0, random_state=s)[0])
             for s in range(300)}
    assert draws == {0, 2, 3, 5}


def test_top_p_ties_kept_or_dropped_together(impl):
    x = np.log([[0.4, 0.2, 0.2, 0.1, 0.1]])
    draws = {int(impl.sample(x, top_p=0.5, random_state=s)[0]) for s in range(300)}
    assert draws == {0, 1, 2}       # 0.4 < 0.5 above each 0.2; 0.8 above each 0.1
    draws = {int(impl.sample(x, top_p=0.4, random_state=s)[0]) for s in range(100)}
    assert draws == {0}


def test_top_p_one_and_no_options_are_plain_sampling(impl):
    x = logits((50, 500), np.float64)
    plain = impl.sample(x, random_state=7)
    np.testing.assert_array_equal(impl.sample(x, top_p=1.0, random_state=7), plain)
    np.testing.assert_array_equal(impl.sample(x, min_p=0.0, random_state=7), plain)
    p = np.exp(log_softmax(x, axis=1))
    u = np.random.default_rng(7).random(50)
    want = [np.searchsorted(np.cumsum(row), ui, side="right") for row, ui in zip(p, u)]
    np.testing.assert_array_equal(plain, want)


def filtered(x, t, top_k, top_p, min_p):
    """The documented steps (temperature, top_k, top_p, min_p) written independently: the
    distribution sample draws from."""
    z = x / t
    keep = np.ones(z.size, bool)
    if top_k:
        keep &= z >= np.sort(z)[-top_k]
    p = np.where(keep, np.exp(z - z.max()), 0)
    p /= p.sum()
    if top_p:
        keep &= np.array([p[keep & (p > pi)].sum() < top_p for pi in p])
    if min_p:
        keep &= p >= min_p * p.max()
    q = np.where(keep, p, 0)
    return q / q.sum()


@pytest.mark.parametrize("kw", [dict(t=1.0, top_k=None, top_p=None, min_p=None),
                                dict(t=0.8, top_k=6, top_p=0.95, min_p=None),
                                dict(t=1.3, top_k=None, top_p=0.7, min_p=0.1)])
def test_frequencies_chi_square(impl, kw):
    x = logits(12, np.float64, seed=3, scale=1.0)
    q = filtered(x, kw["t"], kw["top_k"], kw["top_p"], kw["min_p"])
    draws = 20_000
    rows = np.broadcast_to(x, (draws, x.size))
    idx = impl.sample(rows, temperature=kw["t"], top_k=kw["top_k"], top_p=kw["top_p"],
                      min_p=kw["min_p"], random_state=123)
    counts = np.bincount(idx, minlength=x.size)
    assert (counts[q == 0] == 0).all()
    pvalue = stats.chisquare(counts[q > 0], q[q > 0] * draws).pvalue
    assert pvalue > 1e-4


def test_extreme_logits(impl):
    big = np.finfo(np.float32).max
    x = np.array([[big, big / 2, -big, 0], [-np.inf, -np.inf, 3.0, -np.inf],
                  [1e30, 1e30, -np.inf, 1e30]], np.float32)
    assert impl.sample(x, random_state=0).tolist()[:2] == [0, 2]
    assert impl.sample(x, top_p=0.5, random_state=0)[1] == 2
    assert impl.sample(x, top_k=2, random_state=0)[1] == 2
    v, i = impl.top_k_softmax(x, 2, log=True)
    assert i[0].tolist() == [0, 1] and v[0, 0] == 0 and v[0, 1] == np.float32(-big / 2)
    assert i[1, 0] == 2 and v[1, 0] == 0 and v[1, 1] == -np.inf
    np.testing.assert_allclose(v[2], np.log(1 / 3), rtol=1e-6)


def test_logits_over_temperature_overflowing_float32(fast):
    x = np.array([[3e38, 1e38, 0.0], [1.0, 2.0, 3.0]], np.float32)
    for t in (0.5, 1e-30):
        v, i = fast.top_k_softmax(x, 2, temperature=t, log=True)
        vr, ir = ref.top_k_softmax(x, 2, temperature=t, log=True)
        assert v.dtype == np.float32
        np.testing.assert_array_equal(i, ir)
        np.testing.assert_allclose(v, vr, rtol=1e-6)
        for kw in (dict(), dict(top_k=2), dict(top_p=0.9)):
            np.testing.assert_array_equal(fast.sample(x, temperature=t, random_state=3, **kw),
                                          ref.sample(x, temperature=t, random_state=3, **kw))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16", np.float64])
@pytest.mark.parametrize("t", [1e38, 1e46, 1e300])
def test_huge_temperatures(fast, dtype, t):
    """1 / temperature is 0 or subnormal in float32 past 8.5e37: the float32 kernels rejected
    finite logits as "NaN or +inf"; the reference (float64) takes them."""
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    x = np.array([[1, 2, 3], [3, -np.inf, 1]], dtype)
    for kw in (dict(), dict(top_k=2), dict(top_p=0.5), dict(min_p=0.5)):
        np.testing.assert_array_equal(fast.sample(x, temperature=t, random_state=4, **kw),
                                      ref.sample(x, temperature=t, random_state=4, **kw))
    v, i = fast.top_k_softmax(x, 3, temperature=t)
    vr, ir = ref.top_k_softmax(x, 3, temperature=t)
    assert v.dtype == vr.dtype == x.dtype
    np.testing.assert_array_equal(i, ir)
    np.testing.assert_allclose(v.astype(np.float64), vr.astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize("bad,msg", [(np.nan, "row 1 of logits has NaN"),
                                     (np.inf, "row 1 of logits has NaN"),
                                     (-np.inf, "row 1 of logits has no finite entry")])
@pytest.mark.parametrize("kw", [dict(), dict(top_k=2), dict(temperature=0), dict(top_p=0.5)])
def test_bad_rows(impl, bad, msg, kw):
    x = np.zeros((3, 5))
    x[1, 3] = bad
    if bad == -np.inf:
        x[1] = bad
    with pytest.raises(ValueError, match=msg):
        impl.sample(x, **kw)
    with pytest.raises(ValueError, match=msg):
        impl.top_k_softmax(x, 2)
    x3 = np.zeros((2, 2, 5))
    x3[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"row \(1, 0\) of logits has NaN"):
        impl.sample(x3, **kw)


@pytest.mark.parametrize("kw", [dict(temperature=-1), dict(temperature=np.inf),
                                dict(temperature=np.nan), dict(top_k=0), dict(top_k=1.5),
                                dict(top_p=0), dict(top_p=1.5), dict(min_p=-0.1),
                                dict(min_p=2), dict(top_p="a"), dict(random_state="x")])
def test_bad_options(impl, kw):
    with pytest.raises(ValueError):
        impl.sample(np.zeros((2, 4)), **kw)


@pytest.mark.parametrize("args", [(5,), (-1,), (2.0,), (2, 0), (2, None)])
def test_bad_k_axis_temperature(impl, args):
    x = np.zeros((2, 4))
    with pytest.raises((ValueError, TypeError)):
        impl.top_k_softmax(x, *args) if len(args) == 1 else impl.top_k_softmax(
            x, args[0], temperature=args[1])


def test_empty(impl):
    assert impl.sample(np.zeros((0, 5)), top_k=2).shape == (0,)
    v, i = impl.top_k_softmax(np.zeros((3, 0)), 0)
    assert v.shape == i.shape == (3, 0)
    with pytest.raises(ValueError, match="no finite"):
        impl.sample(np.zeros((3, 0)))


def test_generator_is_advanced_and_seeds_reproduce(impl):
    x = logits((4, 30))
    g = np.random.default_rng(9)
    a, b = impl.sample(x, random_state=g), impl.sample(x, random_state=g)
    g2 = np.random.default_rng(9)
    np.testing.assert_array_equal(a, impl.sample(x, random_state=g2))
    np.testing.assert_array_equal(b, impl.sample(x, random_state=g2))
    np.testing.assert_array_equal(impl.sample(x, random_state=4), impl.sample(x, random_state=4))


def test_same_indices_whatever_the_thread_count(fast):
    x = logits((64, 5000))
    runs = []
    for n in (1, 2):
        with fast.num_threads(n):
            runs.append((fast.sample(x, top_p=0.9, random_state=3),
                         fast.sample(x, top_k=40, random_state=3),
                         fast.top_k_softmax(x, 5)[1]))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_top_p_on_a_long_tail(fast):
    # most of the row is far below the nucleus (as in a real vocabulary): the cutoff skips it
    x = logits((6, 40000), np.float32, scale=1.0)
    x[:, ::97] += 9.0
    for top_p in (0.5, 0.9, 0.999, 1e-6):
        np.testing.assert_array_equal(fast.sample(x, top_p=top_p, random_state=2),
                                      ref.sample(x, top_p=top_p, random_state=2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_p_bracket_of_long_rows(fast, isa, dtype):
    # rows of >= 16384 entries take the subsample bracket; peaked rows make it fail and fall back
    x = logits((4, 20000), dtype, scale=1.0)
    for kw in [dict(top_p=0.95, temperature=0.8), dict(top_p=0.5, temperature=0.2),
               dict(top_p=0.999), dict(top_p=0.3, min_p=0.001, temperature=1.5)]:
        got = fast.sample(x, random_state=8, **kw)
        assert (got != ref.sample(x, random_state=8, **kw)).sum() <= 1, kw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True])
def test_top_k_guessed_shift(fast, isa, dtype, log):
    """Rows of 2k blocks of 8 vectors take their exps under the shift of the first 4 vectors'
    max, in the pass that takes the blocks' maxima (src/decode/csm_exp_pass.h): a row whose max z
    lies more than 64 above that guess, or past the pivot (256), or whose first values are all -inf, goes
    through two passes; a NaN or +inf past the first values is still reported."""
    x = logits((8, 40000), dtype, scale=2.0)
    x[1, :64] -= 100     # z = x / 0.8: the guess ~125 below the max
    x[2, :64] -= 40      # ~50 below: kept
    x[3, :64] = -np.inf
    x[4, -1] = 300       # z = 375
    x[5, :64] = -np.inf
    x[5, 64:] -= 250     # every z below -300: the max past the pivot on the negative side
    x[6, 10] = 40        # the max among the first values: the guess is the max
    x[7, 5:] = x[7, 0]   # ties everywhere
    v, i = fast.top_k_softmax(x, 20, temperature=0.8, log=log)
    vr, ir = ref.top_k_softmax(x, 20, temperature=0.8, log=log)
    np.testing.assert_array_equal(i, ir)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(v, vr, rtol=tol, atol=tol * 10)
    for bad in (np.nan, np.inf):
        y = x.copy()
        y[6, -1] = bad
        with pytest.raises(ValueError, match="row 6 of logits has NaN"):
            fast.top_k_softmax(y, 20, temperature=0.8, log=log)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [100, 1000, 40000])
@pytest.mark.parametrize("kw", [dict(top_p=0.9), dict(min_p=0.05), dict(top_p=0.5, min_p=0.01)])
def test_sample_guessed_shift(fast, isa, dtype, n, kw):
    """Without top_k, rows of 4 vectors or more take their exps under the shift of the first 4
    vectors' max, found with the max in one pass (src/decode/csm_exp_pass.h); the exps may then
    exceed 2 (up to e^64), which the cutoff's radix select takes in. A row whose max z lies more than 64
    above that guess, or past the pivot, or whose first values are all -inf, goes through the max
    pass first; a NaN or +inf past the first values is still reported."""
    x = logits((7, n), dtype, scale=2.0)
    x[1, :64] -= 100     # z = x / 0.8: the guess ~125 below the max
    x[2, :64] -= 40      # ~50 below: kept
    x[3, :64] = -np.inf
    x[4, -1] = 300       # z = 375
    x[5, 10] = 40        # the guess is the max
    x[6, 5:] = x[6, 0]   # ties everywhere
    # row by row over 20 draws: a uniform within rounding of a cumulative boundary may pick the
    # neighbour now and then, a wrong cutoff or sum most of the time
    wrong = np.zeros(len(x), int)
    for seed in range(20):
        wrong += fast.sample(x, temperature=0.8, random_state=seed, **kw) != ref.sample(
            x, temperature=0.8, random_state=seed, **kw)
    assert (wrong <= 2).all(), (wrong, kw)
    for bad in (np.nan, np.inf):
        y = x.copy()
        y[5, -1] = bad
        with pytest.raises(ValueError, match="row 5 of logits has NaN"):
            fast.sample(y, temperature=0.8, random_state=4, **kw)


def test_long_rows_match_reference(fast):
    x = logits((3, 128256), np.float32, scale=2.0)
    for kw in [dict(temperature=0.8, top_k=50, top_p=0.95), dict(temperature=0.8, top_p=0.95),
               dict(min_p=0.01)]:
        np.testing.assert_array_equal(fast.sample(x, random_state=11, **kw),
                                      ref.sample(x, random_state=11, **kw))
    np.testing.assert_array_equal(fast.top_k_softmax(x, 20)[1], ref.top_k_softmax(x, 20)[1])


@pytest.mark.parametrize("n", [20000, 32000])
@pytest.mark.parametrize("scale", [1.0, 2.0, 3.0, 5.0, 8.0])
def test_top_p_bracket_paths(fast, isa, n, scale):
    """The subsample bracket of long rows succeeds at once (spread rows), on its second try
    (anchored at the first's bound), or on the third, the bracket the first two proved (a few
    rows of standard deviation 3 and 5 here, where a few entries hold most of the mass): every
    path gives the reference's draws, row by row."""
    x = logits((24, n), np.float32, seed=int(scale * 10) + n, scale=scale)
    for top_p in (0.5, 0.95, 0.999):
        got = fast.sample(x, temperature=0.8, top_p=top_p, random_state=5)
        want = ref.sample(x, temperature=0.8, top_p=top_p, random_state=5)
        assert (got != want).sum() <= 1, (top_p, np.flatnonzero(got != want))
