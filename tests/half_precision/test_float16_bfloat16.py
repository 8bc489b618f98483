"""float16 and bfloat16 (ml_dtypes) inputs: read and written in the kernels, exact
widening, round-to-nearest-even narrowing, each result within one unit in the last place of its
type against a float64 computation, on every ISA; bfloat16 accepted by every public function."""


import numpy as np
import pytest
from helpers import FUNCS, assert_matches, assert_not_imported

ml_dtypes = pytest.importorskip("ml_dtypes")

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
HALVES = [F16, BF16]
# (mantissa bits, smallest normal exponent)
FORMAT = {F16: (10, -14), BF16: (7, -126)}
rng = np.random.default_rng(1212)


def ulp(v, dtype):
    """One unit in the last place of `dtype` at float64 values `v`."""
    mant, emin = FORMAT[dtype]
    with np.errstate(divide="ignore"):
        e = np.floor(np.log2(np.abs(v)))
    e = np.where(np.isfinite(e), np.maximum(e, emin), emin)
    return np.exp2(e - mant)


def bound(want, dtype):
    """One ULP, or below twice float32's normal range 2^-125: the exps flush to 0 there
    (src/core/csm_exp.h), as assert_matches allows."""
    return np.where(np.abs(want) < 2.0 ** -125, 2.0 ** -125, ulp(want, dtype))


def all_values(dtype):
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)


@pytest.mark.parametrize("dtype", HALVES, ids=str)
def test_every_value_round_trips(fast, isa, dtype):
    # logsumexp of a row of one is the value itself: widening and narrowing of every bit pattern
    # (bfloat16's subnormals, float32's, read as 0: the kernels run with DAZ)
    x = all_values(dtype)[:, None]
    got = fast.logsumexp(x)
    assert got.dtype == dtype
    with np.errstate(invalid="ignore"):   # ml_dtypes' cast of a signalling NaN
        xs = x[:, 0].astype(np.float64)
    xs[np.abs(xs) < 2.0 ** -126] = 0.0
    g = got.astype(np.float64)
    assert (np.isnan(g) == np.isnan(xs)).all()
    assert (g[~np.isnan(xs)] == xs[~np.isnan(xs)]).all()


@pytest.mark.parametrize("dtype", HALVES, ids=str)
@pytest.mark.parametrize("scale", [1 / 3, 1.0009765625, 0.7, 1000.0, 2.0 ** -20])
def test_narrowing_rounds_to_nearest_even(fast, isa, dtype, scale):
    # z = x * scale in float32, then rounded once to the half type: compare with NumPy's cast,
    # float32 subnormals read and written as 0 (the kernels run with DAZ and FTZ)
    x = all_values(dtype)
    x = x[np.isfinite(x.astype(np.float32))][:, None]
    got = fast.logsumexp(x, scale=scale)
    tiny = np.finfo(np.float32).tiny
    x32 = x[:, 0].astype(np.float32)
    x32[np.abs(x32) < tiny] = 0
    with np.errstate(over="ignore"):
        z = x32 * np.float32(scale)
    z[np.abs(z) < tiny] = 0
    want = z.astype(dtype)
    g, w = got.astype(np.float64), want.astype(np.float64)
    bad = (g != w) & ~(np.isnan(g) & np.isnan(w))
    assert not bad.any(), (x[bad][:5, 0], g[bad][:5], w[bad][:5])


def _float64_oracle(func, x64, axis=-1):
    m = np.max(x64, axis=axis, keepdims=True)
    s = np.sum(np.exp(x64 - m), axis=axis, keepdims=True)
    if func == "softmax":
        return np.exp(x64 - m) / s
    # log(s) as log(ties) + log1p(rest / ties): log(1 + 1e-28) is not 0 in a half type's range
    ties = np.sum(x64 == m, axis=axis, keepdims=True)
    rest = np.sum(np.where(x64 < m, np.exp(x64 - m), 0.0), axis=axis, keepdims=True)
    log_s = np.log(ties) + np.log1p(rest / ties)
    if func == "log_softmax":
        return (x64 - m) - log_s
    return (m + log_s)[..., 0]


@pytest.mark.parametrize("dtype", HALVES, ids=str)
@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("shape", [(7, 5), (33, 100), (3, 1000), (2, 20000)])
def test_within_one_ulp_of_float64(fast, isa, dtype, func, shape):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    got = getattr(fast, func)(x)
    assert got.dtype == dtype
    want = _float64_oracle(func, x.astype(np.float64))
    err = np.abs(got.astype(np.float64) - want)
    worst = np.argmax(err - ulp(want, dtype))
    assert (err <= ulp(want, dtype)).all(), (got.ravel()[worst], want.ravel()[worst])


@pytest.mark.parametrize("dtype", HALVES, ids=str)
@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("n", [100, 1000, 16385, 20007, 40000])
def test_long_half_rows_special_values(fast, reference, isa, dtype, func, n):
    """Rows read and written in half precision by their own passes (csm_rows_half.h on AVX-512:
    softmax from 96, log_softmax from 640; shorter rows through the block path): rows with NaN,
    +inf or no finite value take the one-row rules, a row past the floating-point pivot its
    shift, and a partial last pair of vectors its masked load and store. Softmax under a guessed
    shift (bfloat16 rows, float16 rows past 32768) leaves it for three passes when the row's
    first 64 values are all -inf, or lie more than 64 below its max, or when a NaN or +inf comes
    after them; within 64 it keeps it."""
    x = (rng.standard_normal((14, n)) * 3).astype(dtype)
    x[1, 5] = np.nan
    x[2, n - 1] = np.inf
    x[3] = -np.inf
    x[4] += dtype.type(3000)
    x[5, ::3] = -np.inf
    x[6] = 0
    x[7, n - 1] = np.nan
    x[8, :64] = -np.inf
    x[9, :64] -= dtype.type(80)
    x[10, :64] -= dtype.type(50)
    x[11, :64] = -np.inf
    x[11, 64:] -= dtype.type(200)
    x[12, 64:] += dtype.type(100)   # the max past the pivot (256) after a guess below it
    x[12, -1] = dtype.type(300)
    x[13, :64] = dtype.type(-240)
    got = getattr(fast, func)(x)
    with np.errstate(all="ignore"):
        want = getattr(reference, func)(x)
        assert_matches(func, got, want, x)
        ok = np.isfinite(want.astype(np.float64))
        want64 = _float64_oracle(func, x.astype(np.float64))
        err = np.abs(got.astype(np.float64) - want64)
    assert (err[ok] <= bound(want64, dtype)[ok]).all()


@pytest.mark.parametrize("dtype", HALVES, ids=str)
@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("n", [95, 96, 97, 127, 639, 640, 641, 1000, 4099, 8192, 8193, 32768, 32769])
def test_half_rows_exp_within_one_ulp(fast, isa, dtype, func, n):
    """The half rows' own exp is computed only to the half type's precision (csm_rows_half.h):
    every result within one ULP over magnitudes on both sides of the pivot (|max| = 256, where
    the max is subtracted before scaling), large spreads, ties, and -inf entries, at lengths on
    both sides of the thresholds and every tail of a pair of vectors."""
    big = 60000.0 if dtype == F16 else 1e6
    for scale, shift in [(1, 0), (4, 0), (12, 0), (0.01, 0), (3, 250), (3, -255), (3, 300),
                         (3, -1000), (30, 3000), (1, big), (0.5, -big)]:
        x = (rng.standard_normal((6, n)) * scale + shift).astype(dtype)
        x[1, ::7] = -np.inf
        x[2] = x[2, 0]
        x[3, ::2] = x[3].max()
        got = getattr(fast, func)(x)
        with np.errstate(divide="ignore"):
            want = _float64_oracle(func, x.astype(np.float64))
        g = got.astype(np.float64)
        assert (np.isneginf(g) == np.isneginf(want)).all() and np.isfinite(want[~np.isneginf(want)]).all()
        fin = np.isfinite(want)
        err = np.where(fin, np.abs(np.where(fin, g, 0) - np.where(fin, want, 0)), 0)
        b = bound(want, dtype)
        worst = np.unravel_index(np.argmax(err - b), err.shape)
        assert (err <= b).all(), (scale, shift, worst, got[worst], want[worst])


@pytest.mark.parametrize("dtype", HALVES, ids=str)
def test_fused_and_layouts_against_reference(fast, reference, isa, dtype):
    base = (rng.standard_normal((4, 6, 70)) * 3).astype(dtype)
    for x in [base, base[:, :, ::-1], base[::2, ::-1, ::3], np.asfortranarray(base)]:
        bias = np.triu(np.full(x.shape[1:], -np.inf, np.float32), 10)
        where = rng.random((x.shape[0], 1, x.shape[2])) < 0.8
        where[-1] = False
        for axis in (-1, 0, (1, 2), None):
            for kw in [{}, dict(scale=0.25, bias=bias), dict(where=where), dict(dtype=np.float64)]:
                for func in FUNCS:
                    got = getattr(fast, func)(x, axis=axis, **kw)
                    want = getattr(reference, func)(x, axis=axis, **kw)
                    assert_matches(func, got, want, x, axis)


@pytest.mark.parametrize("dtype", HALVES, ids=str)
def test_out(fast, reference, dtype):
    x = rng.standard_normal((5, 40)).astype(dtype)
    out = np.empty((5, 40), dtype)
    assert fast.softmax(x, out=out) is out
    np.testing.assert_array_equal(out.astype(np.float32),
                                  reference.softmax(x).astype(np.float32))
    y = x.copy()
    assert fast.log_softmax(y, out=y) is y
    out_s = np.empty((40, 5), dtype).T
    assert fast.log_softmax(x, out=out_s) is out_s
    np.testing.assert_array_equal(out_s.astype(np.float32), y.astype(np.float32))
    with pytest.raises(TypeError):
        fast.softmax(x, out=np.empty((5, 40), np.float32))
    out32 = np.empty((5, 40), np.float32)
    fast.softmax(x, dtype=np.float32, out=out32)
    np.testing.assert_allclose(out32, reference.softmax(x.astype(np.float32)), rtol=1e-6)


@pytest.mark.parametrize("dtype", HALVES, ids=str)
@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("n", [1000, 40000])
def test_half_rows_in_place_and_out(fast, isa, dtype, func, n):
    """The half row kernels (widened, guessed-shift and three-pass rows) read the whole row
    before they write: in place and into out= give what a fresh result gives."""
    x = (rng.standard_normal((3, n)) * 3).astype(dtype)
    x[1, :64] -= dtype.type(100)   # the guess 100 too low: three passes
    want = getattr(fast, func)(x)
    out = np.empty_like(x)
    assert getattr(fast, func)(x, out=out) is out
    y = x.copy()
    assert getattr(fast, func)(y, out=y) is y
    for got in (out, y):
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


def test_bfloat16_in_every_public_function(impl):
    x = rng.standard_normal((4, 5)).astype(BF16)
    t = np.array([0, 1, 4, 2])
    for result in [impl.softmax(x), impl.log_softmax(x), impl.logsumexp(x),
                   impl.cross_entropy(x, t, reduction="none"),
                   impl.cross_entropy(x, t, return_grad=True)[1], impl.nll_loss(x, t, reduction="none"),
                   impl.softmax_backward(x, x), impl.log_softmax_backward(x, x), impl.sigmoid(x),
                   impl.log_sigmoid(x), impl.binary_cross_entropy(x, np.ones((4, 5)), reduction="none")]:
        assert result.dtype == BF16


def test_ml_dtypes_is_not_imported():
    assert_not_imported("ml_dtypes", "import numpy as np, csoftmax, csoftmax.reference as r\n"
                                     "x = np.ones((2, 3), np.float16)\n"
                                     "csoftmax.softmax(x); r.softmax(x); csoftmax.logsumexp(x, where=x > 0)")
