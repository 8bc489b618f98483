"""The short path of the fused call (``_fast_fused`` in csoftmax/_fused.pxi): a float scale,
a bias / where of one row or of x's own shape, dtype=, out=. It must give the same bits, dtype,
shape and type as the general path, which the same values take when wrapped differently (a 0-d
array scale, list operands, a dtype given by name), and leave the caller's arrays alone."""
import numpy as np
import pytest

from helpers import assert_unchanged, bitwise_copy, half_dtypes

SHAPES = [(1, 10), (3, 7, 10), (5, 1), (4, 33), (2, 300)]


def _general(v):
    """The same operand in a form the short path leaves to the general one."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        return np.array(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _same(got, want):
    assert type(got) is type(want)
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype and g.shape == w.shape
    assert np.array_equal(g.view(np.uint8), w.view(np.uint8)) or np.array_equal(g, w, equal_nan=True)


def _operands(shape, dtype, rng):
    n = shape[-1]
    compute = np.float64 if dtype == np.float64 else np.float32
    yield {"scale": 0.37}
    yield {"scale": np.float32(2.5)}
    yield {"scale": np.float64(0.125)}
    yield {"bias": rng.standard_normal(n).astype(compute)}
    yield {"bias": rng.standard_normal((1,) * (len(shape) - 1) + (n,)).astype(compute)}
    yield {"bias": rng.standard_normal(shape).astype(compute), "scale": 0.5}
    yield {"where": rng.random(n) < 0.7}
    yield {"where": rng.random(shape) < 0.5, "scale": 3.0}
    causal = np.where(np.tril(np.ones(shape, bool)), 0.0, -np.inf).astype(compute)
    yield {"bias": causal, "where": rng.random(shape) < 0.9}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
def test_short_path_matches_the_general_path(fast, isa, func, shape):
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    for dtype in [np.float32, np.float64] + list(half_dtypes()):
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        for kw in _operands(shape, dtype, rng):
            before = {k: bitwise_copy(v) for k, v in kw.items() if isinstance(v, np.ndarray)}
            x_before = bitwise_copy(x)
            got = getattr(fast, func)(x, **kw)
            want = getattr(fast, func)(x, **{k: _general(v) for k, v in kw.items()})
            _same(got, want)
            assert_unchanged(x, x_before)
            for k, v in before.items():
                assert_unchanged(kw[k], v)


@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("src,dst", [(np.float32, np.float64), (np.float64, np.float32),
                                     (np.float16, np.float32), (np.float32, np.float32)])
def test_dtype_argument_short_path(fast, isa, func, src, dst):
    x = (np.random.default_rng(1).standard_normal((6, 20)) * 5).astype(src)
    for kw in ({}, {"scale": 0.3}, {"bias": np.linspace(-1, 1, 20).astype(dst)}):
        got = getattr(fast, func)(x, dtype=dst, **kw)
        want = getattr(fast, func)(x, dtype=np.dtype(dst).name, **{k: _general(v)
                                                                   for k, v in kw.items()})
        _same(got, want)


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_out_short_path(fast, func):
    x = np.random.default_rng(2).standard_normal((4, 9)).astype(np.float32)
    out = np.full_like(x, np.nan)
    r = getattr(fast, func)(x, scale=0.5, out=out)
    assert r is out
    _same(out, getattr(fast, func)(x, scale=np.array(0.5)))
    inplace = x.copy()   # out may be x itself
    assert getattr(fast, func)(inplace, scale=0.5, out=inplace) is inplace
    _same(inplace, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_path_errors_are_the_general_ones(fast, dtype):
    x = np.zeros((2, 3), dtype)
    with pytest.raises(ValueError, match="scale must be finite"):
        fast.softmax(x, scale=float("inf"))
    with pytest.raises(ValueError, match="scale must be finite"):
        fast.softmax(x, scale=float("nan"))
    if dtype == np.float32:   # finite in float64, not in the compute dtype
        with pytest.raises(ValueError, match="scale must be finite"):
            fast.softmax(x, scale=1e39)
    with pytest.raises(ValueError, match="does not broadcast"):
        fast.softmax(x, bias=np.zeros(4, dtype))
    with pytest.raises(TypeError, match="where must be a boolean"):
        fast.softmax(x, where=np.ones((2, 3), np.int8))
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        fast.softmax(x, dtype=np.int32)
