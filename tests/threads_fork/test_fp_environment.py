"""No subnormal reaches or leaves a kernel (src/dispatch/csm_fpenv.h, src/core/csm_exp.h).

On Intel every vector instruction that reads or produces a subnormal takes a microcode assist of
~100+ cycles; AMD handles most in hardware but raises the same status flags, so reading MXCSR's
denormal (DE) and underflow (UE) flags around a call shows the problem on any x86-64 machine:

- typical rows (logits of a few units, masked entries at -inf, rows of every length, so partial
  vectors and masked tail lanes) raise neither flag, in every build: the exp flushes below the
  normal range by construction, with no underflow even for -inf lanes;
- extreme rows (subnormal inputs, exps near the flush limit, huge spreads) may underflow, but
  never see a denormal operand (DAZ is on in the kernels), and the caller's modes are restored.
"""
import numpy as np
import pytest

from helpers import half_dtypes

LENGTHS = (1, 3, 10, 16, 17, 31, 32, 33, 100, 129, 250, 257, 1000, 1001, 5000)


def _flags_of(fast, call):
    core = fast._core
    core._fp_status(clear=True)
    call()
    return core._fp_status(clear=True)


def _typical(n, dtype, rows=8, seed=0, masked=False):
    rng = np.random.default_rng(seed + n)
    x = (rng.standard_normal((rows, n)) * 4).astype(dtype)
    if masked and n > 1:
        x[:, n // 2:] = -np.inf  # a causal / padding mask: a run of -inf at the end of each row
    return x


def _calls(fast, x):
    """Every public kernel over logits x (2-D, float); the inputs are made here, as NumPy's own
    operations on subnormals raise the flags too."""
    rows, n = x.shape
    t = np.arange(rows) % n
    m = np.tril(np.ones((rows, n), dtype=bool), n - rows) | (np.arange(n) == 0)
    p = np.nan_to_num(fast.softmax(x), nan=0.0)
    finite = np.where(np.isfinite(x), x, -30).astype(x.dtype)
    labels = (np.arange(n) % 2).astype(x.dtype) + np.zeros_like(x)
    ones = np.ones_like(p)
    bias = np.zeros(n, x.dtype)
    yield "softmax", lambda: fast.softmax(x)
    yield "log_softmax", lambda: fast.log_softmax(x)
    yield "logsumexp", lambda: fast.logsumexp(x)
    yield "softmax axis=0", lambda: fast.softmax(x, axis=0)
    yield "log_softmax axis=0", lambda: fast.log_softmax(x, axis=0)
    yield "softmax scale", lambda: fast.softmax(x, scale=0.125)
    yield "softmax bias", lambda: fast.softmax(x, bias=bias)
    yield "softmax where", lambda: fast.softmax(x, where=m)
    yield "log_softmax where", lambda: fast.log_softmax(x, where=m)
    yield "cross_entropy", lambda: fast.cross_entropy(finite, t, return_grad=True)
    yield "softmax_backward", lambda: fast.softmax_backward(ones, p)
    yield "sigmoid", lambda: fast.sigmoid(finite)
    yield "log_sigmoid", lambda: fast.log_sigmoid(finite)
    yield "binary_cross_entropy", lambda: fast.binary_cross_entropy(finite, labels,
                                                                    return_grad=True)
    yield "softmax_stats", lambda: fast.softmax_from_stats(x, fast.softmax_stats(x))
    if n >= 2:
        yield "top_k_softmax", lambda: fast.top_k_softmax(finite, min(5, n))
        yield "sample", lambda: fast.sample(finite, top_p=0.9, random_state=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
def test_typical_rows_raise_no_denormal_or_underflow(fast, isa, dtype, masked):
    raised = []
    for n in LENGTHS:
        x = _typical(n, dtype, masked=masked)
        for name, call in _calls(fast, x):
            flags = _flags_of(fast, call)
            if flags:
                raised.append(f"{name} n={n}: {sorted(flags)}")
    assert not raised, "\n".join(raised)


@pytest.mark.parametrize("dtype", half_dtypes(), ids=lambda d: np.dtype(d).name)
def test_typical_half_rows_raise_no_denormal_or_underflow(fast, isa, dtype):
    """The float32 arithmetic raises nothing; the one underflow allowed is the conversion of a
    result below float16's normal range (6.1e-5) to a float16 subnormal, which the conversion
    instruction produces in hardware (it ignores FTZ)."""
    raised = []
    tiny = float(np.finfo(np.float16).tiny) if np.dtype(dtype) == np.float16 else 0.0
    for n in LENGTHS:
        x = _typical(n, np.float32).astype(dtype)
        for name, fn, kwargs in (("softmax", fast.softmax, {}),
                                 ("log_softmax", fast.log_softmax, {}),
                                 ("softmax scale", fast.softmax, {"scale": 0.5}),
                                 ("logsumexp", fast.logsumexp, {})):
            core = fast._core
            core._fp_status(clear=True)
            got = fn(x, **kwargs)
            flags = core._fp_status(clear=True)
            values = np.abs(np.asarray(got, dtype=np.float32))
            if "underflow" in flags and np.any((values > 0) & (values < tiny)):
                flags.discard("underflow")
            if flags:
                raised.append(f"{name} n={n}: {sorted(flags)}")
    assert not raised, "\n".join(raised)


def _extreme_rows(dtype):
    info = np.finfo(dtype)
    tiny = float(info.tiny)
    flush = float(np.log(tiny))  # exps near the smallest normal, below the max at 0
    rows = [
        np.full(40, tiny / 8),                                    # subnormal inputs
        np.concatenate([[0.0], np.linspace(flush - 3, flush + 3, 39)]),
        np.concatenate([[0.0], np.full(39, flush + 0.2)]),        # results near the limit
        np.concatenate([[float(info.max) / 4], -np.full(39, float(info.max) / 4)]),
        np.concatenate([[0.0], np.full(39, -1e4)]),
    ]
    return np.array(rows, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_rows_never_read_a_denormal_and_restore_the_modes(fast, isa, dtype):
    x = _extreme_rows(dtype)
    read = []
    for name, call in _calls(fast, x):
        if "denormal" in _flags_of(fast, call):
            read.append(name)
    assert not read, f"a subnormal reached an instruction in: {read}"
    # outside the kernels subnormals are still computed (the caller's modes are back)
    tiny = np.finfo(dtype).tiny
    assert np.array([tiny], dtype)[0] / dtype(4) > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormal_inputs_read_as_zero(fast, isa, dtype):
    tiny = np.finfo(dtype).tiny
    x = np.array([[tiny / 4, 0.0, -tiny / 4, 0.0]], dtype=dtype)
    np.testing.assert_array_equal(fast.softmax(x), np.full((1, 4), 0.25, dtype))
    np.testing.assert_array_equal(fast.log_softmax(x), np.full((1, 4), -np.log(dtype(4)), dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_probabilities_are_zero_or_normal(fast, isa, dtype):
    """Every build gives 0 or a normal number, never a subnormal, near the bottom of the range."""
    tiny = np.finfo(dtype).tiny
    flush = float(np.log(tiny))
    x = np.concatenate([[0.0], np.linspace(flush - 2, flush + 2, 4001)]).astype(dtype)[None]
    for p in (fast.softmax(x), fast.softmax(x, scale=1.0), fast.softmax(x.T, axis=0).T):
        assert not np.any((p > 0) & (p < tiny))
        want = fast.reference.softmax(x.astype(np.float64))
        big = want >= 2 * tiny  # below twice the smallest normal the exp may flush to 0
        np.testing.assert_allclose(p[big], want[big], rtol=1e-5 if dtype == np.float32 else 1e-13)
        assert np.all(p[~big] <= want[~big] * 1.01)
