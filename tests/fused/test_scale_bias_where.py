"""softmax / log_softmax / logsumexp with scale=, bias=, where=, dtype=, tuple axes, 0-d and
masked inputs: hand-computed values for both implementations, then the fast module
against the reference over layouts, axes, broadcast shapes and every ISA, and every bad input."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from helpers import FLOATS, FUNCS, assert_matches, assert_unchanged, bitwise_copy, in_layout, no_warnings

INF, NAN = np.inf, np.nan
rng = np.random.default_rng(12)


def z_of(x, scale=None, bias=None, where=None, dtype=np.float64):
    """float64 z of the reference's semantics, for tolerances and hand checks."""
    z = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if scale is not None:
            z = z * np.asarray(scale, np.float64)
        if bias is not None:
            z = z + np.asarray(bias, np.float64)
    if where is not None:
        z = np.where(where, z, -INF)
    return np.broadcast_to(z, np.shape(x))


# ------------------------------------------------------------------------ hand-computed values


def test_scale_and_causal_bias(impl):
    x = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    causal = np.array([[0.0, -INF, -INF], [0.0, 0.0, -INF]])
    got = impl.softmax(x, scale=math.log(3.0), bias=causal)
    np.testing.assert_allclose(got, [[1, 0, 0], [0.25, 0.75, 0]], rtol=1e-15)
    got = impl.log_softmax(x, scale=math.log(3.0), bias=causal)
    np.testing.assert_allclose(got, [[0, -INF, -INF], [math.log(0.25), math.log(0.75), -INF]],
                               rtol=1e-15)
    np.testing.assert_allclose(impl.logsumexp(x, scale=math.log(3.0), bias=causal),
                               [math.log(3.0), math.log(12.0)], rtol=1e-15)


def test_per_row_scale(impl):
    x = np.array([[0.0, 1.0], [0.0, 1.0]])
    got = impl.softmax(x, scale=np.array([[math.log(3.0)], [0.0]]))
    np.testing.assert_allclose(got, [[0.25, 0.75], [0.5, 0.5]], rtol=1e-15)
    np.testing.assert_allclose(impl.logsumexp(x, scale=[[math.log(3.0)], [0.0]]),
                               [math.log(4.0), math.log(2.0)], rtol=1e-15)


@pytest.mark.parametrize("dtype", FLOATS)
def test_where_excludes_and_empty_rows(impl, dtype):
    x = np.array([[0.0, NAN, math.log(3.0), INF], [NAN, INF, -INF, 1.0]], dtype=dtype)
    w = np.array([[True, False, True, False], [False, False, False, False]])
    with no_warnings():
        sm = impl.softmax(x, where=w)
        ls = impl.log_softmax(x, where=w)
        lse = impl.logsumexp(x, where=w)
    assert sm.dtype == ls.dtype == lse.dtype == dtype
    np.testing.assert_allclose(sm, [[0.25, 0, 0.75, 0], [0, 0, 0, 0]], rtol=1e-6)
    assert (sm[~w] == 0).all() and (ls[~w] == -INF).all()
    np.testing.assert_allclose(ls[0, [0, 2]], [math.log(0.25), math.log(0.75)], rtol=1e-6)
    np.testing.assert_allclose(lse, [math.log(4.0), -INF], rtol=1e-6)


def test_where_keeps_special_values_of_selected_entries(impl):
    # A selected NaN or +inf keeps its documented effect; excluded entries stay 0 / -inf.
    x = np.array([[NAN, 0.0, 1.0], [INF, 0.0, 1.0], [-INF, -INF, 5.0]])
    w = np.array([[True, True, False], [True, True, False], [True, True, False]])
    sm, ls, lse = impl.softmax(x, where=w), impl.log_softmax(x, where=w), impl.logsumexp(x, where=w)
    assert np.isnan(sm[:, :2]).all() and (sm[:, 2] == 0).all()
    assert np.isnan(ls[:, :2]).all() and (ls[:, 2] == -INF).all()
    assert np.isnan(lse[0]) and lse[1] == INF and lse[2] == -INF


def test_bias_without_where_keeps_nan_of_all_minus_inf_rows(impl):
    x = np.zeros((1, 3))
    bias = np.full(3, -INF)
    assert np.isnan(impl.softmax(x, bias=bias)).all()
    assert impl.logsumexp(x, bias=bias)[0] == -INF


def test_dtype_argument(impl):
    x = np.array([1.0, 2.0, 3.0], dtype=np.float64)
    got = impl.softmax(x, dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, impl.softmax(x.astype(np.float32)), rtol=1e-6)
    assert impl.logsumexp(np.array([1, 2], dtype=np.int8), dtype="float32").dtype == np.float32
    assert impl.log_softmax(np.float32([1e-8, 0]), dtype=np.float64).dtype == np.float64
    # computed as if x were converted first: 1 + 1e-8 is not 1 in float64
    assert impl.log_softmax(np.float32([1e-8, 0]), dtype=np.float64)[0] != impl.log_softmax(
        np.float32([1e-8, 0]))[0]


def test_axis_tuple_matches_scipy(impl):
    from scipy.special import logsumexp as sp_lse
    from scipy.special import softmax as sp_softmax
    x = rng.standard_normal((3, 4, 5))
    for axis in [(0, 2), (1, 2), (2, 0), (0, 1, 2), ()]:
        np.testing.assert_allclose(impl.softmax(x, axis=axis), sp_softmax(x, axis=axis),
                                   rtol=1e-13)
        for keepdims in (False, True):
            np.testing.assert_allclose(impl.logsumexp(x, axis=axis, keepdims=keepdims),
                                       sp_lse(x, axis=axis, keepdims=keepdims), rtol=1e-13)


def test_zero_dim_gives_scalar(impl):
    assert type(impl.softmax(np.float64(3.0))) is np.float64
    assert type(impl.log_softmax(np.float32(3.0))) is np.float32
    assert impl.logsumexp(2.0, scale=3.0, bias=1.0) == 7.0
    assert impl.softmax(np.float64(1.0), where=np.False_) == 0
    out = np.empty(())
    assert impl.softmax(np.float64(3.0), out=out) is out and out == 1


def test_masked_array(impl):
    x = np.ma.MaskedArray([[0.0, 99.0, math.log(3.0)], [NAN, 1.0, 2.0]],
                          mask=[[False, True, False], [True, True, True]])
    sm = impl.softmax(x)
    assert isinstance(sm, np.ma.MaskedArray)
    np.testing.assert_array_equal(sm.mask, x.mask)
    np.testing.assert_allclose(sm.data, [[0.25, 0, 0.75], [0, 0, 0]], rtol=1e-15)
    lse = impl.logsumexp(x)
    assert isinstance(lse, np.ma.MaskedArray)
    np.testing.assert_array_equal(lse.mask, [False, True])
    np.testing.assert_allclose(lse.data, [math.log(4.0), -INF], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_dim_masked_array(impl, dtype):
    """A 0-d masked array (its ~mask is a NumPy scalar, not an array): the fast module crashed
    with mask=False and ignored mask=True."""
    kept = np.ma.MaskedArray(np.array(3.0, dtype), mask=False)
    for func, want in [("softmax", 1.0), ("log_softmax", 0.0), ("logsumexp", 3.0)]:
        got = getattr(impl, func)(kept)
        assert np.ma.getmask(got) is np.ma.nomask or not np.ma.getmask(got)
        assert np.ma.getdata(got) == want and np.ma.getdata(got).dtype == dtype
    gone = np.ma.MaskedArray(np.array(3.0, dtype), mask=True)
    for func, want in [("softmax", 0.0), ("log_softmax", -INF)]:
        got = getattr(impl, func)(gone)
        assert isinstance(got, np.ma.MaskedArray) and got.shape == () and got.mask
        assert got.data == want
    assert impl.logsumexp(gone) is np.ma.masked
    # where= and a 0-d mask together
    got = impl.softmax(kept, where=np.True_)
    assert np.ma.getdata(got) == 1.0 and not np.ma.getmask(got)


# ------------------------------------------------------------------------------- bad inputs


def _bad_calls():
    x = np.zeros((2, 3, 4))
    yield "bias shape", ValueError, r"\(3, 3\).*\(2, 3, 4\)", dict(bias=np.zeros((3, 3)))
    yield "where shape", ValueError, r"\(5,\).*\(2, 3, 4\)", dict(where=np.ones(5, bool))
    yield "scale shape", ValueError, r"\(4,\).*\(2, 3, 1\)", dict(scale=np.ones(4))
    yield "where not bool", TypeError, "boolean", dict(where=np.ones((3, 4)))
    yield "dtype int", TypeError, "float32 or float64", dict(dtype=np.int32)
    yield "dtype float16", TypeError, "float32 or float64", dict(dtype=np.float16)
    yield "dtype nonsense", TypeError, "float32 or float64", dict(dtype="nonsense")
    yield "scale inf", ValueError, "finite", dict(scale=INF)
    yield "scale nan in a row", ValueError, "finite", dict(scale=np.array([[[1.0]], [[NAN]]]))
    yield "scale overflows float32", ValueError, "finite", dict(scale=1e300, dtype=np.float32)
    yield "bias complex", TypeError, "unsupported", dict(bias=np.zeros(4, complex))
    del x


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("case", list(_bad_calls()), ids=lambda c: c[0])
def test_bad_arguments(impl, func, case):
    _, exc, match, kwargs = case
    x = rng.standard_normal((2, 3, 4))
    before = bitwise_copy(x)
    out = np.full((2, 3) if func == "logsumexp" else x.shape, 7.0)
    with pytest.raises(exc, match=match):
        getattr(impl, func)(x, out=out, **kwargs)
    assert_unchanged(x, before)
    assert (out == 7.0).all()


# ----------------------------------------------------------------- fast against reference


def check_fused(fast, reference, x, axis=-1, **kw):
    """All three functions (and keepdims) of fast and reference agree; nothing is modified."""
    before = bitwise_copy(x)
    z = z_of(x, kw.get("scale"), kw.get("bias"), kw.get("where"))
    for func in FUNCS:
        with no_warnings():
            got = getattr(fast, func)(x, axis=axis, **kw)
        assert_unchanged(x, before)
        want = getattr(reference, func)(x, axis=axis, **kw)
        assert_matches(func, got, want, z, axis)
    got = fast.logsumexp(x, axis=axis, keepdims=True, **kw)
    assert_matches("logsumexp", got, reference.logsumexp(x, axis=axis, keepdims=True, **kw), z,
                   axis, keepdims=True)


def layouts(shape, dtype):
    """The same values in C, Fortran, strided, negatively strided and padded layouts."""
    base = (rng.standard_normal(shape) * 4).astype(dtype)
    for name in ("C", "F", "strided", "reversed_step2", "padded"):
        yield name, in_layout(base, name)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 33), (2, 3, 130)])
def test_layouts_and_axes(fast, reference, isa, dtype, shape):
    for _, x in layouts(shape, dtype):
        nd = x.ndim
        bias = np.where(rng.random(shape[-2:]) < 0.3, -INF, rng.standard_normal(shape[-2:]))
        where = rng.random(shape) < 0.7
        where[0] = False   # a fully masked row (or block) for every axis
        for axis in list(range(nd)) + [None, (0, nd - 1)]:
            kshape = tuple(1 if axis is None or i in np.atleast_1d(axis) % nd else d
                           for i, d in enumerate(shape))
            scale = rng.uniform(0.1, 2.0, kshape)
            check_fused(fast, reference, x, axis, scale=scale, bias=bias)
            check_fused(fast, reference, x, axis, where=where)
            check_fused(fast, reference, x, axis, scale=0.5, bias=bias, where=where[-1])


@pytest.mark.parametrize("dtype", FLOATS)
def test_attention_broadcasts(fast, reference, isa, dtype):
    b, h, q, k = 2, 3, 9, 40
    x = rng.standard_normal((b, h, q, k)).astype(dtype) * 3
    causal = np.triu(np.full((q, k), -INF), 1).astype(dtype)
    padding = np.zeros((b, 1, 1, k), dtype)
    padding[1, ..., 30:] = -INF
    tri = np.tril(np.ones((q, k), bool))
    pad_where = np.ones((b, 1, 1, k), bool)
    pad_where[0, ..., 5:] = False
    pad_where[1, ..., :] = False   # a whole padded sequence
    temperature = rng.uniform(0.5, 2.0, (b, 1, 1, 1))
    check_fused(fast, reference, x, scale=1 / math.sqrt(k), bias=causal)
    check_fused(fast, reference, x, scale=1 / temperature, bias=padding)
    check_fused(fast, reference, x, where=tri)
    check_fused(fast, reference, x, where=pad_where, bias=causal[:, :1])
    check_fused(fast, reference, x, scale=rng.uniform(0.5, 2, (b, h, q, 1)), where=tri)


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("n", [50, 300, 1000])   # register rows; rows formed in the max pass
def test_nan_and_inf_in_excluded_entries(fast, reference, isa, func, n):
    x = rng.standard_normal((6, n))
    where = rng.random(x.shape) < 0.5
    where[:, 0] = True
    poisoned = x.copy()
    poisoned[~where] = rng.choice([NAN, INF, -INF, 1e308], size=(~where).sum())
    with no_warnings():
        got = getattr(fast, func)(poisoned, where=where, scale=2.0, bias=np.ones(n))
    want = getattr(fast, func)(x, where=where, scale=2.0, bias=np.ones(n))
    np.testing.assert_array_equal(got, want)
    assert_matches(func, got, getattr(reference, func)(poisoned, where=where, scale=2.0,
                                                       bias=np.ones(n)),
                   z_of(x, 2.0, np.ones(n), where))


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("n", [50, 300, 1000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_selected_entries_and_empty_rows(fast, reference, isa, func, n, dtype):
    """A selected NaN makes the selected entries NaN and the excluded ones 0 (-inf); a selected
    +inf the same; a row with nothing selected 0 (-inf); a row whose selected entries are all
    -inf NaN on them - with where= alone and with a bias, every row path."""
    x = rng.standard_normal((6, n)).astype(dtype)
    where = rng.random(x.shape) < 0.7
    where[:, 1] = True
    x[0, 1] = NAN
    x[1, 1] = INF
    where[2] = False
    x[3, where[3]] = -INF
    for kw in ({}, dict(bias=np.zeros(n, dtype))):
        with no_warnings():
            got = getattr(fast, func)(x, where=where, **kw)
        assert_matches(func, got, getattr(reference, func)(x, where=where, **kw), x)


@pytest.mark.parametrize("n", [1, 3, 16, 33, 257, 1000, 7000, 40000])
def test_row_lengths(fast, reference, isa, n):
    # across the block sizes (rows per block from thousands to one) and the row kernels' paths
    x = rng.standard_normal((5, n)).astype(np.float32)
    where = rng.random((5, n)) < 0.9
    where[2] = False
    check_fused(fast, reference, x, scale=0.3, bias=rng.standard_normal(n), where=where)


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_out_and_in_place(fast, reference, func):
    x = rng.standard_normal((8, 70))
    bias = np.triu(np.full((8, 70), -INF), 1)
    want = getattr(reference, func)(x, scale=0.5, bias=bias)
    out = np.empty_like(x)
    assert getattr(fast, func)(x, scale=0.5, bias=bias, out=out) is out
    np.testing.assert_allclose(out, want, rtol=1e-13)
    out_f = np.empty_like(x, order="F")
    assert getattr(fast, func)(x, scale=0.5, bias=bias, out=out_f) is out_f
    np.testing.assert_allclose(out_f, want, rtol=1e-13)
    y = x.copy()
    assert getattr(fast, func)(y, scale=0.5, bias=bias, out=y) is y
    np.testing.assert_allclose(y, want, rtol=1e-13)
    # out aliasing the bias: the bias of later rows is read before it is overwritten
    b = np.broadcast_to(bias[:1], x.shape).copy()
    want_b = getattr(reference, func)(x, bias=b.copy())
    assert getattr(fast, func)(x, bias=b, out=b) is b
    np.testing.assert_allclose(b, want_b, rtol=1e-13)
    with pytest.raises(TypeError):
        getattr(fast, func)(x, scale=0.5, out=np.empty(x.shape, np.float32))


def test_logsumexp_out(fast, reference):
    x = rng.standard_normal((4, 5, 6))
    out = np.empty((4, 1, 6))
    fast.logsumexp(x, axis=1, keepdims=True, where=x > 0, out=out)
    np.testing.assert_allclose(out, reference.logsumexp(x, axis=1, keepdims=True, where=x > 0),
                               rtol=1e-13)


def test_threads_give_the_same_bits(fast):
    x = rng.standard_normal((64, 16, 257)).astype(np.float32)
    kw = dict(scale=0.125, bias=np.triu(np.full((16, 257), -INF), 3), where=x[0] > -1)
    with fast.num_threads(1):
        one = [fast.softmax(x, **kw), fast.logsumexp(x, **kw)]
    with fast.num_threads(2):
        two = [fast.softmax(x, **kw), fast.logsumexp(x, **kw)]
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_masked_array_fast(fast, reference):
    x = np.ma.masked_invalid(np.where(rng.random((6, 9)) < 0.3, NAN, rng.standard_normal((6, 9))))
    x.mask[2] = True
    for func in FUNCS:
        got, want = getattr(fast, func)(x), getattr(reference, func)(x)
        assert isinstance(got, np.ma.MaskedArray)
        np.testing.assert_array_equal(got.mask, want.mask)
        np.testing.assert_allclose(got.data, want.data, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, ">f4", ">f8"])
def test_other_input_dtypes(fast, reference, dtype):
    x = (rng.standard_normal((3, 6)) * 3).astype(dtype)
    check_fused(fast, reference, x, scale=0.5, where=rng.random((3, 6)) < 0.8)
    check_fused(fast, reference, x, dtype=np.float32, bias=np.arange(6.0))


def test_zero_size(fast, reference):
    for shape in [(0, 5), (5, 0), (2, 0, 3)]:
        x = np.zeros(shape)
        for axis in list(range(len(shape))) + [None, (0, 1)]:
            check_fused(fast, reference, x, axis, scale=2.0, where=np.ones(shape, bool))


@pytest.mark.parametrize("dtype", FLOATS)
def test_product_rounded_before_the_bias(fast, reference, isa, dtype):
    # x * scale overflows to inf, then + -inf is NaN: no FMA may fuse the two (it would give -inf)
    big = np.finfo(dtype).max
    x = np.array([[big, 1.0, 0.0], [big / 2, 1.0, 0.0]], dtype=dtype)
    bias = np.array([-INF, 0.0, 0.0], dtype=dtype)
    check_fused(fast, reference, x, scale=2.0, bias=bias)
    assert np.isnan(fast.softmax(x, scale=2.0, bias=bias)[0]).all()
    assert not np.isnan(fast.softmax(x, scale=2.0, bias=bias)[1]).any()


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_large_output_streamed(fast, reference, isa, func):
    # a thread's part of >= 16 MB is written with non-temporal stores (rows of 1025 floats: the
    # row starts are not vector-aligned, so the aligned middle and the element-wise ends are used)
    x = rng.standard_normal((4100, 1025)).astype(np.float32)
    where = np.ones(1025, bool)
    where[::7] = False
    bias = np.zeros(1025, np.float32)
    bias[3] = -INF
    with fast.num_threads(1):
        got = getattr(fast, func)(x, scale=0.5, bias=bias, where=where)
    want = getattr(reference, func)(x, scale=0.5, bias=bias, where=where)
    assert_matches(func, got, want, z_of(x, 0.5, bias, where))


# ------------------------------------------------------------- property: any broadcast shapes


try:
    import ml_dtypes
    KERNEL_DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
except ImportError:   # the test extra installs it; without it, bfloat16 is not drawn
    KERNEL_DTYPES = [np.float32, np.float64, np.float16]


@st.composite
def fused_case(draw):
    """x of 0-4 dims (any dtype the kernels read, or an integer one), a plain array or a masked
    one (nomask, a partial or a full mask), an axis or tuple of axes, and scale / bias / where of
    shapes broadcastable to what they must broadcast to (axes of 1 dropped or kept)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
    dtype = draw(st.sampled_from(KERNEL_DTYPES + [np.int32]))
    x = np.asarray(np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape) * 4,
                   dtype=dtype)
    mask = draw(st.sampled_from([None, "nomask", "partial", "full"]))
    if mask == "nomask":
        x = np.ma.MaskedArray(x)
    elif mask is not None:
        m = np.random.default_rng(5).random(shape) < 0.4 if mask == "partial" else True
        x = np.ma.MaskedArray(x, mask=np.broadcast_to(m, shape))
    nd = len(shape)
    if nd == 0:   # a 0-d input is a row of one
        axis = draw(st.sampled_from([-1, 0, None]))
    else:
        axis = draw(st.one_of(st.integers(-nd, nd - 1), st.none(),
                              st.lists(st.integers(0, nd - 1), unique=True, max_size=nd).map(tuple)))
    axes = range(nd) if axis is None else (axis % max(nd, 1),) if isinstance(axis, int) else axis
    kshape = tuple(1 if i in axes else d for i, d in enumerate(shape))

    def sub(full):   # a shape broadcastable to `full`: leading axes dropped, others set to 1
        k = draw(st.integers(0, len(full)))
        return tuple(d if draw(st.booleans()) else 1 for d in full[k:])
    kw = {}
    if draw(st.booleans()):
        kw["scale"] = np.random.default_rng(1).uniform(0.25, 2, sub(kshape))
    if draw(st.booleans()):
        b = np.random.default_rng(2).standard_normal(sub(shape))
        kw["bias"] = np.where(np.random.default_rng(3).random(b.shape) < 0.2, -INF, b)
    if draw(st.booleans()):
        kw["where"] = np.random.default_rng(4).random(sub(shape)) < 0.6
    if draw(st.booleans()):
        kw["dtype"] = draw(st.sampled_from([np.float32, np.float64]))
    return x, axis, kw


# the isa fixture only selects the kernels for the whole test: reusing it across examples is right
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=fused_case())
def test_fast_matches_reference_on_any_broadcast(fast, reference, isa, case):
    x, axis, kw = case
    kept = ~np.ma.getmaskarray(x)
    where = kept if "where" not in kw else np.logical_and(kw["where"], kept)
    z = z_of(np.ma.getdata(x), kw.get("scale"), kw.get("bias"), where)
    before = bitwise_copy(np.ma.getdata(x))
    for func in FUNCS:
        with no_warnings():
            got = getattr(fast, func)(x, axis=axis, **kw)
        assert_unchanged(np.ma.getdata(x), before)
        want = getattr(reference, func)(x, axis=axis, **kw)
        assert_matches(func, got, want, z, axis if z.ndim else None)   # 0-d: the one row
        if isinstance(x, np.ma.MaskedArray):
            np.testing.assert_array_equal(np.ma.getmaskarray(got), np.ma.getmaskarray(want))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [300, 512, 1000])   # rows formed in the max pass (fused_softmax_direct)
def test_masked_tail_skipped_exactly(fast, reference, isa, dtype, n):
    """The exps of a -inf tail are skipped (causal and padding masks): every tail length, a NaN or
    +inf in x under a -inf bias still makes the row NaN (NaN + -inf), under where= it does not, and
    the result is the softmax of the kept prefix alone."""
    x = rng.standard_normal((n, n)).astype(dtype)
    causal = np.triu(np.full((n, n), -INF, dtype), 1)
    keep = ~np.triu(np.ones((n, n), bool), 1)
    for kw in (dict(bias=causal), dict(where=keep), dict(scale=0.5, bias=causal)):
        got = fast.softmax(x, **kw)
        assert_matches("softmax", got, reference.softmax(x, **kw), z_of(x, **kw))
        for r in (0, 1, 15, 16, 17, n // 2, n - 2):
            np.testing.assert_array_equal(got[r, r + 1:], 0)
            np.testing.assert_allclose(got[r, :r + 1],
                                       fast.softmax(x[r, :r + 1] * kw.get("scale", 1)),
                                       rtol=1e-5 if dtype == np.float32 else 1e-13)
    for r, bad in ((3, NAN), (40, INF), (n // 2, NAN)):
        xp = x.copy()
        xp[r, -1] = bad
        got = fast.softmax(xp, bias=causal)
        assert np.isnan(got[r]).all() and not np.isnan(np.delete(got, r, 0)).any()
        np.testing.assert_array_equal(fast.softmax(xp, where=keep), fast.softmax(x, where=keep))
