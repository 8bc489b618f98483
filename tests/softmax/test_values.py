"""Hand-computed values and the documented special cases, for every implementation."""

import math

import numpy as np
import pytest

# The special cases are documented as silent: any RuntimeWarning is a bug.
pytestmark = pytest.mark.filterwarnings("error")

FLOATS = [np.float32, np.float64]
RTOL = {np.float32: 2e-7, np.float64: 1e-15}
NAN, INF = np.nan, np.inf


def arr(values, dtype):
    return np.array(values, dtype=dtype)


def assert_same_specials(actual, expected):
    """NaN, +-inf and exact zeros in the same places, then values close."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(actual), np.isneginf(expected))
    np.testing.assert_array_equal(actual == 0, expected == 0)


# ------------------------------------------------------------------ hand-computed values


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_one_third_two_thirds(impl, dtype):
    res = impl.softmax(arr([0.0, math.log(2.0)], dtype))
    assert res.dtype == dtype
    np.testing.assert_allclose(res, [1 / 3, 2 / 3], rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_one_two_three(impl, dtype):
    e = math.e
    z = 1 + e + e * e
    res = impl.softmax(arr([1, 2, 3], dtype))
    np.testing.assert_allclose(res, [1 / z, e / z, e * e / z], rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
def test_log_softmax_one_two_three(impl, dtype):
    lz = math.log(1 + math.exp(-1) + math.exp(-2))
    res = impl.log_softmax(arr([1, 2, 3], dtype))
    assert res.dtype == dtype
    np.testing.assert_allclose(res, [-2 - lz, -1 - lz, -lz], rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
def test_log_softmax_uniform(impl, dtype):
    for n in (1, 2, 3, 10, 1000):
        res = impl.log_softmax(np.full(n, 5.0, dtype=dtype))
        np.testing.assert_allclose(res, -math.log(n), rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_near_zero_keeps_relative_accuracy(impl, dtype):
    expected = 4.248354255291589e-18  # log1p(exp(-40))
    res = impl.logsumexp(arr([0.0, -40.0], dtype))
    assert res.dtype == dtype
    np.testing.assert_allclose(res, expected, rtol=RTOL[dtype] * 4)
    res = impl.logsumexp(arr([-40.0, 0.0, -50.0], dtype))
    np.testing.assert_allclose(res, math.log1p(math.exp(-40) + math.exp(-50)), rtol=RTOL[dtype] * 4)
    assert impl.logsumexp(arr([0.0], dtype)) == 0.0
    assert impl.logsumexp(arr([0.0, -INF], dtype)) == 0.0


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_ties(impl, dtype):
    np.testing.assert_allclose(impl.logsumexp(arr([5, 5, 5], dtype)), 5 + math.log(3),
                               rtol=RTOL[dtype])
    np.testing.assert_allclose(impl.logsumexp(arr([0, 0], dtype)), math.log(2), rtol=RTOL[dtype])
    np.testing.assert_allclose(impl.logsumexp(arr([0, -40, 0], dtype)),
                               math.log(2 + math.exp(-40)), rtol=RTOL[dtype])
    np.testing.assert_allclose(impl.logsumexp(arr([-3, -3, -3, -3], dtype)),
                               -3 + math.log(4), rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_two_values(impl, dtype):
    for a, b in [(1.0, 2.0), (-7.5, 3.25), (100.0, 99.0), (-1000.0, -1001.0)]:
        hi, lo = max(a, b), min(a, b)
        expected = hi + math.log1p(math.exp(lo - hi))
        np.testing.assert_allclose(impl.logsumexp(arr([a, b], dtype)), expected,
                                   rtol=RTOL[dtype])


# ------------------------------------------------------------------------ special values


@pytest.mark.parametrize("dtype", FLOATS)
def test_special_rows(impl, dtype):
    # One row per documented case; rows must not influence each other.
    x = arr([
        [1.0, 2.0, 3.0],          # ordinary
        [-INF, -INF, -INF],       # all -inf
        [NAN, 1.0, 2.0],          # NaN
        [1.0, -INF, NAN],         # NaN wins over -inf
        [INF, 1.0, NAN],          # NaN wins over +inf
        [1.0, INF, -INF],         # +inf, no NaN
        [INF, INF, 0.0],          # two +inf
        [0.0, -INF, 1.0],         # -inf with a finite max
        [-INF, 7.0, -INF],        # single finite value
    ], dtype)
    sm = impl.softmax(x)
    ls = impl.log_softmax(x)
    lse = impl.logsumexp(x)
    e = math.e
    exp_sm = arr([
        [1 / (1 + e + e * e), e / (1 + e + e * e), e * e / (1 + e + e * e)],
        [NAN] * 3, [NAN] * 3, [NAN] * 3, [NAN] * 3, [NAN] * 3, [NAN] * 3,
        [1 / (1 + e), 0.0, e / (1 + e)],
        [0.0, 1.0, 0.0],
    ], dtype)
    assert_same_specials(sm, exp_sm)
    np.testing.assert_allclose(sm, exp_sm, rtol=RTOL[dtype], equal_nan=True)

    l1 = math.log1p(math.exp(-1))
    exp_ls = arr([
        np.log(exp_sm[0].astype(np.float64)),
        [NAN] * 3, [NAN] * 3, [NAN] * 3, [NAN] * 3, [NAN] * 3, [NAN] * 3,
        [-1 - l1, -INF, -l1],
        [-INF, 0.0, -INF],
    ], dtype)
    assert_same_specials(ls, exp_ls)
    np.testing.assert_allclose(ls, exp_ls, rtol=4 * RTOL[dtype], equal_nan=True)

    exp_lse = arr([3 + math.log(1 + math.exp(-1) + math.exp(-2)), -INF, NAN, NAN, NAN,
                   INF, INF, 1 + l1, 7.0], dtype)
    assert_same_specials(lse, exp_lse)
    np.testing.assert_allclose(lse, exp_lse, rtol=RTOL[dtype], equal_nan=True)


@pytest.mark.parametrize("dtype", FLOATS)
def test_special_rows_along_axis0_and_none(impl, dtype):
    x = arr([[1.0, -INF, NAN, INF, -INF],
             [2.0, -INF, 0.0, 0.0, 5.0]], dtype)
    sm = impl.softmax(x, axis=0)
    e = math.e
    expected = arr([[1 / (1 + e), NAN, NAN, NAN, 0.0], [e / (1 + e), NAN, NAN, NAN, 1.0]], dtype)
    assert_same_specials(sm, expected)
    np.testing.assert_allclose(sm, expected, rtol=RTOL[dtype], equal_nan=True)
    lse = impl.logsumexp(x, axis=0)
    assert_same_specials(lse, arr([2 + math.log1p(math.exp(-1)), -INF, NAN, INF, 5.0], dtype))
    assert np.isnan(impl.logsumexp(x, axis=None))
    assert np.isnan(impl.softmax(x, axis=None)).all()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 16, 17, 33, 100])
def test_special_value_at_every_position(impl, dtype, n):
    # SIMD kernels handle heads, bodies and tails separately: put the special value everywhere.
    for special in (NAN, INF, -INF):
        for pos in range(n):
            x = np.linspace(-1.0, 1.0, n).astype(dtype)
            x[pos] = special
            sm, ls, lse = impl.softmax(x), impl.log_softmax(x), impl.logsumexp(x)
            if np.isnan(special) or special == INF or n == 1:
                # NaN or +inf poison the row; a lone -inf is an all -inf row.
                assert np.isnan(sm).all() and np.isnan(ls).all(), (special, pos)
                assert np.isnan(lse) if np.isnan(special) else lse == special, (special, pos)
            else:
                assert sm[pos] == 0.0 and ls[pos] == -INF
                others = np.delete(np.arange(n), pos)
                assert (sm[others] > 0).all() and np.isfinite(ls[others]).all()
                np.testing.assert_allclose(sm.sum(dtype=np.float64), 1.0, rtol=1e-6)
                assert np.isfinite(lse)


@pytest.mark.parametrize("dtype", FLOATS)
def test_no_input_modification_with_specials(impl, dtype):
    x = arr([[NAN, 1.0], [INF, -INF], [-INF, -INF], [1e30, -1e30]], dtype)
    keep = x.copy()
    for f in (impl.softmax, impl.log_softmax, impl.logsumexp):
        f(x)
        f(x, axis=0)
        f(x, axis=None)
        np.testing.assert_array_equal(x, keep)


# ------------------------------------------------------------------------ extreme logits


@pytest.mark.parametrize(
    "dtype, big", [(np.float32, 1e4), (np.float32, 1e30), (np.float32, 3e38),
                   (np.float64, 1e4), (np.float64, 1e30), (np.float64, 1e308)])
def test_extreme_logits(impl, dtype, big):
    big = dtype(big)
    np.testing.assert_array_equal(impl.softmax(arr([big, 0], dtype)), [1, 0])
    np.testing.assert_array_equal(impl.softmax(arr([0, big], dtype)), [0, 1])
    np.testing.assert_array_equal(impl.softmax(arr([-big, big], dtype)), [0, 1])
    np.testing.assert_array_equal(impl.softmax(arr([big, big], dtype)), [0.5, 0.5])
    np.testing.assert_array_equal(impl.softmax(arr([-big, -big], dtype)), [0.5, 0.5])
    np.testing.assert_array_equal(impl.softmax(arr([-big, 0, -big], dtype)), [0, 1, 0])

    np.testing.assert_array_equal(impl.log_softmax(arr([big, 0], dtype)), [0, -big])
    np.testing.assert_array_equal(impl.log_softmax(arr([-big, 0], dtype)), [-big, 0])
    ln2 = dtype(math.log(2))
    np.testing.assert_allclose(impl.log_softmax(arr([big, big], dtype)), [-ln2, -ln2],
                               rtol=RTOL[dtype])

    # big + log 2 rounds to big for big >= 1e30; 1e4 + log 2 is representable.
    for row, expected in [([big, big], big + ln2), ([-big, -big], -big + ln2),
                          ([big, -big], big), ([big, 0], big), ([0, -big], 0)]:
        res = impl.logsumexp(arr(row, dtype))
        np.testing.assert_allclose(res, expected, rtol=RTOL[dtype])
        assert np.isfinite(res)


def test_extreme_logits_float32_overflowing_difference(impl):
    # x - max = -6e38 overflows float32: softmax must still be exactly 0 there.
    x = arr([3e38, -3e38, 3.4e38, -3.4e38], np.float32)
    res = impl.softmax(x)
    np.testing.assert_array_equal(res, [0, 0, 1, 0])
    ls = impl.log_softmax(x)
    assert ls[2] == 0 and (ls[[1, 3]] == -INF).all()
    assert impl.logsumexp(x) == np.float32(3.4e38)


@pytest.mark.parametrize("dtype", FLOATS)
def test_tiny_and_subnormal_logits(impl, dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    x = arr([tiny, 0.0, -tiny], dtype)
    np.testing.assert_allclose(impl.softmax(x), [1 / 3] * 3, rtol=RTOL[dtype])
    np.testing.assert_allclose(impl.logsumexp(x), math.log(3), rtol=RTOL[dtype])


# ---------------------------------------------------------------------- input dtypes


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32])
def test_integer_input(impl, dtype):
    x = np.array([[1, 2, 3], [0, 0, 100]], dtype=dtype)
    xf = x.astype(np.float64)
    for f in ("softmax", "log_softmax", "logsumexp"):
        res = getattr(impl, f)(x)
        assert res.dtype == np.float64, f
        np.testing.assert_allclose(res, getattr(impl, f)(xf), rtol=1e-15)


def test_bool_input(impl):
    x = np.array([True, False])
    e = math.e
    res = impl.softmax(x)
    assert res.dtype == np.float64
    np.testing.assert_allclose(res, [e / (1 + e), 1 / (1 + e)], rtol=1e-15)
    np.testing.assert_allclose(impl.logsumexp(x), math.log(1 + e), rtol=1e-15)


def test_python_list_and_scalar_inputs(impl):
    np.testing.assert_allclose(impl.softmax([0.0, math.log(3)]), [0.25, 0.75], rtol=1e-15)
    np.testing.assert_allclose(impl.softmax([[1, 2], [1, 2]], axis=0), [[0.5] * 2] * 2)
    res = impl.logsumexp(2.5, axis=None)
    assert isinstance(res, np.float64) and res == 2.5


@pytest.mark.parametrize("dtype", [">f4", ">f8", "<f4", "<f8"])
def test_byte_order(impl, dtype):
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], dtype=dtype)
    native = x.astype(np.dtype(dtype).newbyteorder("="))
    for f in ("softmax", "log_softmax", "logsumexp"):
        res = getattr(impl, f)(x)
        assert res.dtype.isnative
        np.testing.assert_array_equal(res, getattr(impl, f)(native))


# ---------------------------------------------------------------------- shapes and axes


EMPTY_SHAPES = [(0,), (0, 5), (5, 0), (0, 0), (2, 0, 3), (3, 4, 0)]


@pytest.mark.parametrize("shape", EMPTY_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32])
def test_zero_size(impl, shape, dtype):
    x = np.zeros(shape, dtype=dtype)
    rdt = np.float16 if dtype == np.float16 else np.float32 if dtype == np.float32 else np.float64
    for axis in list(range(len(shape))) + [None]:
        for f in (impl.softmax, impl.log_softmax):
            res = f(x, axis=axis)
            assert res.shape == shape and res.dtype == rdt
        n = x.size if axis is None else shape[axis]
        for keepdims in (False, True):
            lse = impl.logsumexp(x, axis=axis, keepdims=keepdims)
            expected = np.sum(x, axis=axis, keepdims=keepdims)
            assert np.shape(lse) == expected.shape and lse.dtype == rdt
            if n == 0:
                assert (np.asarray(lse) == -INF).all()  # empty sum is 0, log 0 = -inf


def test_zero_length_rows_give_neg_inf(impl):
    res = impl.logsumexp(np.zeros((3, 0)))
    np.testing.assert_array_equal(res, [-INF] * 3)
    assert impl.logsumexp(np.zeros(0), axis=None) == -INF
    assert impl.logsumexp(np.zeros((0, 4)), axis=None) == -INF
    np.testing.assert_array_equal(impl.logsumexp(np.zeros((0, 4)), axis=0), [-INF] * 4)


@pytest.mark.parametrize("dtype", FLOATS)
def test_zero_dim_input_axis_none(impl, dtype):
    x = np.array(3.5, dtype=dtype)
    sm = impl.softmax(x, axis=None)   # a NumPy scalar, as from SciPy (issue 12)
    assert type(sm) is dtype and sm == 1
    ls = impl.log_softmax(x, axis=None)
    assert type(ls) is dtype and ls == 0
    for axis in (0, -1, (), (0,)):
        assert type(impl.softmax(x, axis=axis)) is dtype
    lse = impl.logsumexp(x, axis=None)
    assert type(lse) is dtype and lse == 3.5
    lse_k = impl.logsumexp(x, axis=None, keepdims=True)
    assert np.shape(lse_k) == () and lse_k == 3.5
    for special, sm_exp, lse_exp in [(NAN, NAN, NAN), (-INF, NAN, -INF), (INF, NAN, INF)]:
        xs = np.array(special, dtype=dtype)
        assert_same_specials(impl.softmax(xs, axis=None), sm_exp)
        assert_same_specials(impl.log_softmax(xs, axis=None), sm_exp)
        assert_same_specials(impl.logsumexp(xs, axis=None), lse_exp)
    assert impl.softmax(dtype(2.0), axis=None) == 1  # NumPy scalar input


@pytest.mark.parametrize("dtype", FLOATS)
def test_axis_none_is_one_row(impl, dtype):
    x = np.arange(24, dtype=dtype).reshape(2, 3, 4) / 7
    flat = x.ravel()
    sm = impl.softmax(x, axis=None)
    assert sm.shape == x.shape
    np.testing.assert_allclose(sm, impl.softmax(flat).reshape(x.shape), rtol=RTOL[dtype] * 8)
    np.testing.assert_allclose(impl.log_softmax(x, axis=None),
                               impl.log_softmax(flat).reshape(x.shape), rtol=RTOL[dtype] * 8)
    lse = impl.logsumexp(x, axis=None)
    assert type(lse) is dtype
    np.testing.assert_allclose(lse, impl.logsumexp(flat), rtol=RTOL[dtype] * 4)
    assert impl.logsumexp(x, axis=None, keepdims=True).shape == (1, 1, 1)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_every_axis_matches_moved_axis(impl, dtype, axis):
    rng = np.random.default_rng(axis + 10)
    x = rng.normal(0, 3, size=(3, 4, 5)).astype(dtype)
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    tol = dict(rtol=RTOL[dtype] * 8, atol=RTOL[dtype] * 8)
    np.testing.assert_allclose(np.moveaxis(impl.softmax(x, axis=axis), axis, -1),
                               impl.softmax(moved), **tol)
    np.testing.assert_allclose(np.moveaxis(impl.log_softmax(x, axis=axis), axis, -1),
                               impl.log_softmax(moved), **tol)
    np.testing.assert_allclose(impl.logsumexp(x, axis=axis), impl.logsumexp(moved), **tol)
    kd = impl.logsumexp(x, axis=axis, keepdims=True)
    assert kd.shape == np.sum(x, axis=axis, keepdims=True).shape
    np.testing.assert_array_equal(kd, np.expand_dims(impl.logsumexp(x, axis=axis), axis))


# --------------------------------------------------------------------- results and out=


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_logsumexp_scalar_results(impl, dtype):
    x = np.array([1.0, 2.0], dtype=dtype)
    res = impl.logsumexp(x)
    assert type(res) is dtype
    out = np.empty((), dtype=dtype)
    assert impl.logsumexp(x, out=out) is out
    assert out == res
    assert isinstance(impl.logsumexp(x, keepdims=True), np.ndarray)


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_results_are_new_arrays(impl, func):
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    keep = x.copy()
    res = getattr(impl, func)(x)
    assert isinstance(res, np.ndarray) and not np.may_share_memory(res, x)
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_in_place(impl, func, dtype):
    x = np.array([[1.0, 2.0, -INF], [3.0, 5.0, 4.0]], dtype=dtype)
    expected = getattr(impl, func)(x)
    assert getattr(impl, func)(x, out=x) is x
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_overlapping_out(impl, func):
    f = getattr(impl, func)
    buf = np.array([0.5, 1.0, -2.0, 3.0, 0.0, 7.0, -1.0])
    x = buf[:-1]
    expected = f(x.copy())
    out = buf[1:]  # shifted by one element over the input
    assert f(x, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-15)

    y = np.arange(12.0).reshape(3, 4) / 5
    expected = f(y.copy(), axis=0)
    f(y, axis=0, out=y[::-1])
    np.testing.assert_allclose(y[::-1], expected, rtol=1e-15)


def test_logsumexp_out_overlapping_input(impl):
    x = np.arange(12.0).reshape(3, 4) / 3
    expected = impl.logsumexp(x.copy(), axis=1)
    impl.logsumexp(x, axis=1, out=x[:, 0])
    np.testing.assert_allclose(x[:, 0], expected, rtol=1e-15)
