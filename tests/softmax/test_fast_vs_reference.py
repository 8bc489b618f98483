"""The fast module against the reference: shapes, axes, dtypes, memory layouts and ``out=``.

Every test runs on every SIMD dispatch path (the ``isa`` fixture). Tolerances are those of the
textbook float32 reference (the fast module is more accurate; accuracy against a
high-precision oracle is tested in test_accuracy.py). Special values (NaN, +-inf, exact 0)
must sit in exactly the same places.
"""

import zlib

import numpy as np
import pytest

from helpers import FLOATS, assert_matches, assert_unchanged, bitwise_copy, check_all, in_layout

ROW_LENGTHS = list(range(1, 34)) + [1000, 2049, 30576]
BATCHES = [0, 1, 7, 64]

pytestmark = pytest.mark.filterwarnings("error")


# -------------------------------------------------------------------------------- data


def logits(rng, shape, dtype, specials=True):
    """Random logits; row i (along the last axis) has scale 1, 10, 100 or 1e4 in turn.

    With ``specials``, a few entries are NaN, +inf or -inf so that along any axis some rows are
    poisoned and some have -inf entries next to a finite max.
    """
    shape = tuple(shape)
    scales = np.array([1.0, 10.0, 100.0, 1e4])
    if len(shape) == 0:
        return np.asarray(rng.normal(), dtype=dtype)
    lead = int(np.prod(shape[:-1]))
    row_scale = scales[np.arange(lead) % 4].reshape(shape[:-1] + (1,))
    x = rng.normal(size=shape) * row_scale
    if np.dtype(dtype) == np.float16:
        x /= 10  # stay inside float16's range (65504)
    if specials and x.size >= 4:
        flat = x.reshape(-1)
        k = max(1, x.size // 50)
        flat[rng.integers(0, x.size, k)] = -np.inf
        if x.size >= 30:
            flat[rng.integers(0, x.size)] = np.nan
            flat[rng.integers(0, x.size)] = np.inf
    return x.astype(dtype)


def special_rows(n, dtype):
    """Rows of length n covering every documented special case (for 2-D batches)."""
    big = 3e38 if dtype == np.float32 else 1e308
    base = np.linspace(-3.0, 2.0, n)
    rows = []
    for pos in sorted({0, n // 2, n - 1}):
        for value in (np.nan, np.inf, -np.inf):
            r = base.copy()
            r[pos] = value
            rows.append(r)
    rows.append(np.full(n, -np.inf))                # all -inf
    rows.append(np.full(n, 0.25))                   # all ties
    r = np.zeros(n)
    r[::2] = -np.inf
    rows.append(r)                                  # half -inf
    r = np.full(n, -big)
    r[n // 2] = big
    rows.append(r)                                  # extreme, exp(x - max) overflow in x - max
    rows.append(np.full(n, big))
    rows.append(np.where(np.arange(n) % 3 == 0, 1e30, -1e30))
    rows.append(np.where(np.arange(n) % 2 == 0, 1e4, -1e4))
    rows.append(base - 1e4)
    return np.array(rows).astype(dtype)


# ---------------------------------------------------------------------------- row lengths


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("n", ROW_LENGTHS)
def test_row_lengths(fast, reference, isa, dtype, batch, n):
    rng = np.random.default_rng(1000 * n + batch)
    x = logits(rng, (batch, n), dtype, specials=batch >= 7)
    check_all(fast, reference, x)
    if batch == 1:
        check_all(fast, reference, x[0])          # the 1-D path
        check_all(fast, reference, x[0], axis=None)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", ROW_LENGTHS[:33] + [48, 64, 100, 127, 128, 129, 1000])
def test_special_values_in_every_lane(fast, reference, isa, dtype, n):
    x = special_rows(n, dtype)
    check_all(fast, reference, x)
    check_all(fast, reference, np.ascontiguousarray(x.T), axis=0)


# ---------------------------------------------------------------------- axes and layouts


# layouts of helpers.in_layout: each a different set of strides or flags for the same values
LAYOUTS_2D = ["C", "F", "step2_last", "step3_first", "reversed_last", "reversed_first",
              "reversed_step2", "padded", "swapped_last_two", "byteswapped", "readonly"]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(7, 37), (64, 1000), (3, 2049), (1000, 3)])
@pytest.mark.parametrize("layout", LAYOUTS_2D)
def test_layouts_2d(fast, reference, isa, dtype, shape, layout):
    rng = np.random.default_rng(zlib.crc32(f"{shape}{layout}".encode()))
    x = in_layout(logits(rng, shape, dtype), layout)
    for axis in (0, 1, -1, -2, None):
        check_all(fast, reference, x, axis)


# the 3-D ones include one outer axis reversed: the outer axes do not collapse into evenly
# spaced rows
LAYOUTS_3D = ["C", "F", "step2_middle", "step2_last", "swapped_last_two", "reversed",
              "reversed_middle", "reversed_first", "padded"]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(4, 5, 33), (3, 17, 64), (2, 300, 7)])
@pytest.mark.parametrize("layout", LAYOUTS_3D)
def test_layouts_3d(fast, reference, isa, dtype, shape, layout):
    rng = np.random.default_rng(zlib.crc32(f"{shape}{layout}".encode()))
    x = in_layout(logits(rng, shape, dtype), layout)
    for axis in (0, 1, 2, -1, None):
        check_all(fast, reference, x, axis)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [1, 17, 1000, 30576])
def test_layouts_1d(fast, reference, isa, dtype, n):
    x = logits(np.random.default_rng(n), (n,), dtype)
    views = {name: in_layout(x, name) for name in ("C", "strided", "reversed", "reversed_step2",
                                                   "offset", "byteswapped", "readonly")}
    for name, x in views.items():
        assert x.shape == (n,), name
        check_all(fast, reference, x)
        check_all(fast, reference, x, axis=None)


def test_zero_dim(fast, reference, isa):
    for value in (0.5, -3e4, np.nan, np.inf, -np.inf):
        for dtype in (np.float32, np.float64, np.float16):
            check_all(fast, reference, np.array(value, dtype=dtype), axis=None)


# ------------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", [np.float16, np.int8, np.int32, np.int64, np.uint8, np.bool_,
                                   ">f4", ">f8", ">f2", ">i8"])
@pytest.mark.parametrize("shape", [(7, 37), (64, 1000)])
def test_input_dtypes(fast, reference, isa, dtype, shape):
    rng = np.random.default_rng(7)
    if np.dtype(dtype).kind == "f":
        x = logits(rng, shape, np.dtype(dtype).newbyteorder("=")).astype(dtype)
    elif np.dtype(dtype).kind == "b":
        x = rng.integers(0, 2, shape).astype(dtype)
    else:
        x = rng.integers(0, 100, shape).astype(dtype)
    for axis in (0, -1, None):
        check_all(fast, reference, x, axis)


# ---------------------------------------------------------------------------- 0-size


@pytest.mark.parametrize("dtype", [*FLOATS, np.float16])
@pytest.mark.parametrize("shape", [(0,), (0, 5), (5, 0), (0, 0), (2, 0, 3), (3, 4, 0)])
def test_zero_size(fast, reference, isa, dtype, shape):
    x = np.zeros(shape, dtype=dtype)
    for axis in list(range(len(shape))) + [None]:
        check_all(fast, reference, x, axis)


# -------------------------------------------------------------------------------- out=


@pytest.mark.parametrize("dtype", [*FLOATS, np.float16])
@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(7, 37), (64, 1000)])
def test_out_separate(fast, reference, isa, dtype, func, shape):
    rng = np.random.default_rng(3)
    f = getattr(fast, func)
    x = logits(rng, shape, dtype)
    before = bitwise_copy(x)
    outs = {name: in_layout(np.empty(shape, dtype), name)
            for name in ("C", "F", "step2_last", "reversed")}
    for axis in (-1, 0, None):
        want = getattr(reference, func)(x, axis=axis)
        for name, out in outs.items():
            out[...] = 7
            assert f(x, axis=axis, out=out) is out, name
            assert_unchanged(x, before)
            assert_matches(func, out, want, x, axis)


@pytest.mark.parametrize("dtype", [*FLOATS, np.float16])
@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(7, 37), (64, 1000)])
def test_out_overlapping(fast, reference, isa, dtype, func, shape):
    """In place and any other overlap give what a separate output would have given."""
    rng = np.random.default_rng(4)
    f = getattr(fast, func)
    b, n = shape

    def cases():
        x = logits(rng, shape, dtype)
        yield "in_place", x, x
        x = logits(rng, shape, dtype)
        yield "rows_reversed", x, x[::-1]
        x = logits(rng, shape, dtype)
        yield "cols_reversed", x, x[:, ::-1]
        buf = logits(rng, (b, n + 1), dtype)
        yield "shift_one_column", buf[:, :-1], buf[:, 1:]
        buf = logits(rng, (b, n + 1), dtype)
        yield "shift_back_one_column", buf[:, 1:], buf[:, :-1]
        buf = logits(rng, (b + 1, n), dtype)
        yield "shift_one_row", buf[:-1], buf[1:]
        flat = logits(rng, (b * n + 3,), dtype)
        yield "shift_three_elements", flat[:-3].reshape(shape), flat[3:].reshape(shape)
        x = logits(rng, (n, b), dtype)
        if b != n:
            buf = np.empty(b * n, dtype)
            buf[:] = x.ravel()
            yield "transposed_alias", buf.reshape(n, b).T, buf.reshape(b, n)

    for axis in (-1, 0, None):
        for name, x, out in cases():
            original = x.copy()  # x changes through out
            want = getattr(reference, func)(original, axis=axis)
            assert f(x, axis=axis, out=out) is out, name
            assert_matches(func, out, want, original, axis)


@pytest.mark.parametrize("dtype", [*FLOATS, np.float16])
def test_logsumexp_out(fast, reference, isa, dtype):
    rng = np.random.default_rng(5)
    x = logits(rng, (64, 33), dtype)
    before = bitwise_copy(x)
    for axis, keepdims in [(-1, False), (0, False), (1, True), (None, False), (None, True)]:
        want = reference.logsumexp(x, axis=axis, keepdims=keepdims)
        shape = np.shape(want)
        for out in (np.empty(shape, dtype), np.empty(shape + (2,), dtype)[..., 0]):
            assert fast.logsumexp(x, axis=axis, keepdims=keepdims, out=out) is out
            assert_unchanged(x, before)
            assert_matches("logsumexp", out, np.asarray(want), x, axis, keepdims)
    # out overlapping the input: a column of x receives the row results.
    want = reference.logsumexp(x.copy(), axis=1)
    out = x[:, 0]
    assert fast.logsumexp(x, axis=1, out=out) is out
    assert_matches("logsumexp", out, want, before, 1)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("n", [10, 25, 100, 257, 1000, 4096])
def test_a_row_gives_the_same_bits_alone_or_in_a_batch(fast, isa, func, dtype, n):
    """Rows are computed two at a time, or alone, by batch size and thread split: every split
    into parts of two rows or more (threads give each far more) must give the same bits. (A
    single short row takes the one-row path, not the lane-per-row block, and may differ.)"""
    x = logits(np.random.default_rng(n), (9, n), dtype)
    f = getattr(fast, func)
    batch = f(x)
    for cuts in ([2, 5], [3], [4, 6]):
        parts = np.split(x, cuts)
        np.testing.assert_array_equal(np.concatenate([f(p) for p in parts]), batch)
