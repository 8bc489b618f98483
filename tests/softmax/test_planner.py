"""The planner (src/dispatch/csm_planner.c) chooses the kernel family that serves each call of softmax,
log_softmax and logsumexp: "rows", "cols", "half" or "fused". Each test makes a public call and
reads the choice back (``_core._last_kernel()``, recorded after ``_core._record_kernels(True)``),
so the Python layer's description of the call is tested with the planner's rules."""

import importlib

import numpy as np
import pytest

OPS = ("softmax", "log_softmax", "logsumexp")


@pytest.fixture
def planned(fast):
    """planned(op, x, **kw): the kernel family the planner chose for op(x, **kw)."""
    core = importlib.import_module(fast.__name__ + "._core")

    def run(op, x, **kw):
        getattr(fast, op)(x, **kw)
        return core._last_kernel()

    core._record_kernels(True)
    try:
        yield run
    finally:
        core._record_kernels(False)


def half_types():
    types = [np.dtype(np.float16)]
    try:
        import ml_dtypes
    except ImportError:
        return types
    return types + [np.dtype(ml_dtypes.bfloat16)]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_rows_plan_the_row_kernels(planned, op, dtype, isa):
    x = np.random.default_rng(0).standard_normal((6, 40)).astype(dtype)
    assert planned(op, x) == "rows"
    assert planned(op, np.zeros((4, 10), dtype)) == "rows"   # the smallest calls too
    assert planned(op, x[::2]) == "rows"                      # a uniform row stride
    assert planned(op, x[::-1]) == "rows"                     # a negative one
    assert planned(op, np.asfortranarray(x), axis=0) == "rows"   # the transposed C array
    assert planned(op, x.reshape(3, 2, 40), axis=None) == "rows"


@pytest.mark.parametrize("op", OPS)
def test_a_middle_axis_plans_the_column_kernels(planned, op, isa):
    assert planned(op, np.ones((3, 50, 7), np.float32), axis=1) == "cols"


@pytest.mark.parametrize("op", ("softmax", "log_softmax"))
def test_in_place_and_out_plan_the_row_kernels(planned, fast, op, isa):
    x = np.random.default_rng(1).standard_normal((8, 100)).astype(np.float32)
    out = np.empty_like(x)
    assert planned(op, x, out=out) == "rows"
    assert planned(op, x, out=x) == "rows"


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kw", [{"scale": 0.5}, {"bias": np.zeros(40, np.float32)},
                                {"where": np.arange(40) % 3 > 0}, {"dtype": np.float64}])
def test_fused_operands_plan_the_fused_kernels(planned, op, kw, isa):
    x = np.random.default_rng(2).standard_normal((6, 40)).astype(np.float32)
    assert planned(op, x, **kw) == "fused"


@pytest.mark.parametrize("op", OPS)
def test_other_storage_and_tuple_axes_plan_the_fused_kernels(planned, op, isa):
    x = np.random.default_rng(3).standard_normal((4, 5, 6))
    assert planned(op, x.astype(">f8")) == "rows"   # converted to native first
    assert planned(op, x, axis=(1, 2)) == "rows"   # collapsed into one axis: uniform rows
    assert planned(op, x, axis=(0, 2)) == "rows"   # moved last (a copy), then collapsed
    assert planned(op, x, axis=(1, 2), scale=2.0) == "fused"
    assert planned(op, x.transpose(1, 0, 2)[:, :3], axis=-1) == "rows"
    assert planned(op, x[:, :3], axis=-1, scale=2.0) == "fused"
    assert planned(op, np.ma.masked_array(x, mask=x > 1)) == "fused"


@pytest.mark.parametrize("half", half_types(), ids=str)
@pytest.mark.parametrize("op", ("softmax", "log_softmax"))
def test_half_rows_plan_the_half_kernels_where_the_build_has_them(planned, fast, half, op, isa):
    """float16 / bfloat16 in and out with nothing fused: the half kernels (AVX-512 builds), for
    rows of at least 96 (softmax) / 640 (log_softmax) values; otherwise the block path."""
    x = np.random.default_rng(4).standard_normal((8, 1000)).astype(half)
    want = "half" if isa == "avx512" else "fused"
    assert planned(op, x) == want
    assert planned(op, x[::2]) == want                     # a uniform row stride
    assert planned(op, x.reshape(2, 4, 1000)[:, :3]) == want   # per-row offsets
    assert planned(op, x, out=np.empty_like(x)) == want
    assert planned(op, x[:, :95]) == "fused"               # short rows: the block path
    assert planned("log_softmax", x[:, :639]) == "fused"
    assert planned(op, x, scale=2.0, where=x > 0) == "fused"
    assert planned(op, x, dtype=np.float32) == "fused"     # float32 out: storage differs
    assert planned(op, x[:, ::2]) == "fused"               # not a unit step


@pytest.mark.parametrize("half", half_types(), ids=str)
def test_half_logsumexp_plans_the_fused_kernels(planned, fast, half, isa):
    x = np.random.default_rng(5).standard_normal((8, 1000)).astype(half)
    assert planned("logsumexp", x) == "fused"
    r = fast.logsumexp(np.zeros((3, 0), half))   # empty rows: -inf, written by the kernel
    assert r.dtype == half and np.all(r == -np.inf)
