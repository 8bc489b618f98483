"""Rows larger than 128 KB, which the fast module reads once, in 8 KB blocks, each block under its
own exponent shift (src/csm_rows_long.h), against the reference and a float64 oracle (cross-entropy
on long rows: losses/test_long_rows.py).

The cases (helpers.long_row) put what the blocks must merge in chosen blocks: a max that appears
late, maxima tied across blocks, blocks of -inf, a NaN or +inf far from the first block, a late max that needs the
three-pass fallback (|max| >= 256), blocks whose maxima are hundreds apart (their exps moved by
2^-200 and more), and more blocks than the kernel keeps on its stack.
"""

import numpy as np
import pytest

from helpers import (LONG_ROW_KINDS, assert_matches, check_all, long_row, long_row_block,
                     softmax_oracle)

# (dtype, row length): just over 128 KB; and over 128 blocks (the heap path)
LENGTHS = [(np.float32, 40000), (np.float64, 20000), (np.float32, 300001)]
IDS = [f"{np.dtype(d).name}-{n}" for d, n in LENGTHS]


@pytest.mark.parametrize("dtype,n", LENGTHS, ids=IDS)
@pytest.mark.parametrize("kind", LONG_ROW_KINDS)
def test_long_rows_match_reference(fast, reference, isa, kind, dtype, n):
    rng = np.random.default_rng(len(kind) * 7 + n)
    x = np.stack([long_row(kind, dtype, n, rng), long_row("normal", dtype, n, rng)])
    check_all(fast, reference, x)
    check_all(fast, reference, x[::-1])


@pytest.mark.parametrize("dtype,n", LENGTHS, ids=IDS)
@pytest.mark.parametrize("kind", ["late_max", "ties_across_blocks", "far_apart"])
def test_long_rows_relative_accuracy(fast, isa, kind, dtype, n):
    """Moving a block's exps by a power of two is exact: the error stays that of three passes
    (float32 <= 1e-6 relative wherever the result is a normal number)."""
    x = long_row(kind, dtype, n, np.random.default_rng(3))
    got = fast.softmax(x).astype(np.float64)
    want = softmax_oracle(x)
    normal = want >= np.finfo(dtype).tiny
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert np.max(np.abs(got - want)[normal] / want[normal]) <= tol
    assert np.max(np.abs(got - want)[~normal], initial=0) <= np.finfo(dtype).tiny
    lse = float(fast.logsumexp(x))
    xm = x.astype(np.float64).max()
    want_lse = xm + np.log(np.sum(np.exp(x.astype(np.float64) - xm)))
    assert abs(lse - want_lse) <= 8 * np.finfo(dtype).eps * max(abs(want_lse), 1.0)


@pytest.mark.parametrize("dtype,n", LENGTHS[:2])
def test_long_rows_in_place(fast, isa, dtype, n):
    """softmax(x, out=x): the one-read path writes a block's exps as it reads it, so it must not
    run in place: rows it hands to three passes would be read back as those exps (an all -inf
    row gave 1/n, a row past the pivot from its middle on wrong values; tests/c found both)."""
    rng = np.random.default_rng(n)
    half = n // 2
    x = np.array([np.full(n, -np.inf),
                  np.concatenate([rng.normal(0, 3, half), rng.normal(0, 1, n - half) - 3000]),
                  rng.normal(0, 3, n)], dtype)
    want = fast.softmax(x)
    y = x.copy()
    assert fast.softmax(y, out=y) is y
    assert np.isnan(y[0]).all()
    assert_matches("softmax", y, want, x)


def test_long_row_logsumexp_counts_ties_in_every_block(fast, isa):
    n = 3 * long_row_block(np.float32) + 100
    x = np.zeros(n, np.float32)  # every block's max is the row's max
    assert fast.logsumexp(x) == np.float32(np.log(n))
    x[1::2] = -np.inf
    assert abs(float(fast.logsumexp(x)) - np.log(len(x[::2]))) <= 2e-7 * np.log(n)


def test_long_row_logsumexp_keeps_tiny_rest(fast, isa):
    """log1p of the non-max remainder, merged across blocks: [0, -40 in a later block, -inf...]."""
    for dtype in (np.float32, np.float64):
        n = 4 * long_row_block(dtype)
        x = np.full(n, -np.inf, dtype)
        x[10] = 0
        x[3 * long_row_block(dtype) + 5] = -40
        got = float(fast.logsumexp(x))
        want = np.log1p(np.exp(-40.0))
        assert abs(got - want) <= 4 * np.finfo(dtype).eps * want
