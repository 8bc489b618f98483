"""Rows larger than 128 KB, which the fast module reads once, in 8 KB blocks, each block under its
own exponent shift (src/csm_rows_long.h), against the reference and a float64 oracle.

The cases put what the blocks must merge in chosen blocks: a max that appears late, maxima tied
across blocks, blocks of -inf, a NaN or +inf far from the first block, a late max that needs the
three-pass fallback (|max| >= 256), blocks whose maxima are hundreds apart (their exps moved by
2^-200 and more), and more blocks than the kernel keeps on its stack.
"""

import numpy as np
import pytest

from helpers import assert_matches, check_all, cross_entropy_oracle, max_rel_diff

BLOCK_BYTES = 8192
# (dtype, row length): just over 128 KB; and over 128 blocks (the heap path)
LENGTHS = [(np.float32, 40000), (np.float64, 20000), (np.float32, 300001)]


def _block(dtype):
    return BLOCK_BYTES // np.dtype(dtype).itemsize


def _row(kind, dtype, n, rng):
    """One long row of `kind`; block b spans [b * B, (b + 1) * B)."""
    B = _block(dtype)
    x = rng.normal(0.0, 3.0, n)
    if kind == "normal":
        pass
    elif kind == "late_max":  # each block's max above the last: the running merge moves
        x += np.arange(n) // B * 5.0
    elif kind == "early_max":
        x[3] = 40.0
    elif kind == "ties_across_blocks":
        x = np.minimum(x, 7.0)
        x[[5, B + 5, 3 * B - 1, n - 1]] = 7.0
    elif kind == "far_apart":  # block maxima hundreds apart: exps flushed or moved by 2^-k
        x += (np.arange(n) // B % 3) * -110.0
    elif kind == "neginf_blocks":
        x[:B] = -np.inf
        x[2 * B:3 * B] = -np.inf
    elif kind == "nan_in_neginf_block":
        x[B:2 * B] = -np.inf
        x[B + 17] = np.nan
    elif kind == "nan_late":
        x[n - 3] = np.nan
    elif kind == "posinf_late":
        x[2 * B + 1] = np.inf
    elif kind == "pivot_late":  # first blocks fit the blocked path, a late one needs the pivot
        x[n - B // 2] = 300.0
    elif kind == "pivot_large_negative":
        x -= 1000.0
    elif kind == "all_neginf":
        x[:] = -np.inf
    else:
        raise AssertionError(kind)
    return x.astype(dtype)


KINDS = ["normal", "late_max", "early_max", "ties_across_blocks", "far_apart", "neginf_blocks",
         "nan_in_neginf_block", "nan_late", "posinf_late", "pivot_late", "pivot_large_negative",
         "all_neginf"]
IDS = [f"{np.dtype(d).name}-{n}" for d, n in LENGTHS]


@pytest.mark.parametrize("dtype,n", LENGTHS, ids=IDS)
@pytest.mark.parametrize("kind", KINDS)
def test_long_rows_match_reference(fast, reference, isa, kind, dtype, n):
    rng = np.random.default_rng(len(kind) * 7 + n)
    x = np.stack([_row(kind, dtype, n, rng), _row("normal", dtype, n, rng)])
    check_all(fast, reference, x)
    check_all(fast, reference, x[::-1])


def _oracle_softmax(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("dtype,n", LENGTHS, ids=IDS)
@pytest.mark.parametrize("kind", ["late_max", "ties_across_blocks", "far_apart"])
def test_long_rows_relative_accuracy(fast, isa, kind, dtype, n):
    """Moving a block's exps by a power of two is exact: the error stays that of three passes
    (float32 <= 1e-6 relative wherever the result is a normal number)."""
    x = _row(kind, dtype, n, np.random.default_rng(3))
    got = fast.softmax(x).astype(np.float64)
    want = _oracle_softmax(x)
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
    n = 3 * _block(np.float32) + 100
    x = np.zeros(n, np.float32)  # every block's max is the row's max
    assert fast.logsumexp(x) == np.float32(np.log(n))
    x[1::2] = -np.inf
    assert abs(float(fast.logsumexp(x)) - np.log(len(x[::2]))) <= 2e-7 * np.log(n)


def test_long_row_logsumexp_keeps_tiny_rest(fast, isa):
    """log1p of the non-max remainder, merged across blocks: [0, -40 in a later block, -inf...]."""
    for dtype in (np.float32, np.float64):
        n = 4 * _block(dtype)
        x = np.full(n, -np.inf, dtype)
        x[10] = 0
        x[3 * _block(dtype) + 5] = -40
        got = float(fast.logsumexp(x))
        want = np.log1p(np.exp(-40.0))
        assert abs(got - want) <= 4 * np.finfo(dtype).eps * want


@pytest.mark.parametrize("dtype,n", LENGTHS[:2], ids=IDS[:2])
@pytest.mark.parametrize("kind", ["normal", "late_max", "ties_across_blocks", "far_apart",
                                  "neginf_blocks", "nan_late", "pivot_late"])
def test_long_rows_cross_entropy(fast, reference, isa, kind, dtype, n):
    rng = np.random.default_rng(11)
    x = np.stack([_row(kind, dtype, n, rng), _row("late_max", dtype, n, rng)])
    B = _block(dtype)
    target = np.array([n - B // 3, 2 * B + 1])  # in later blocks than the first
    weight = rng.uniform(0.5, 2.0, n).astype(dtype)
    for kwargs in ({}, {"weight": weight}, {"label_smoothing": 0.1}):
        loss, grad = fast.cross_entropy(x, target, reduction="none", return_grad=True, **kwargs)
        ref_loss, ref_grad = reference.cross_entropy(x, target, reduction="none",
                                                     return_grad=True, **kwargs)
        for special in (np.isnan, np.isposinf):  # as the reference documents them
            assert np.array_equal(special(loss), special(ref_loss))
            assert np.array_equal(special(grad), special(ref_grad))
        if kind == "nan_late":
            assert np.isnan(grad[0]).all() and not np.isnan(grad[1]).any()
        ok = np.isfinite(ref_loss)
        if np.isneginf(x).any():  # the textbook oracle makes NaN of 0 * -inf: the reference
            assert max_rel_diff(loss[ok], ref_loss[ok]) <= (1e-5 if dtype == np.float32 else 1e-12)
        else:
            want = cross_entropy_oracle(x[ok], target[ok], reduction="none", **kwargs)
            assert max_rel_diff(loss[ok], want) <= (2e-6 if dtype == np.float32 else 1e-12)
        # gradient of the per-row losses: weight_t * (softmax - onehot) (plus smoothing)
        eps = kwargs.get("label_smoothing", 0.0)
        w = kwargs.get("weight", np.ones(n, dtype)).astype(np.float64)
        p = _oracle_softmax(x[ok])
        onehot = np.zeros_like(p)
        onehot[np.arange(len(p)), target[ok]] = 1
        wt = w[target[ok]][:, None]
        want_grad = (1 - eps) * wt * (p - onehot) + eps / n * (w.sum() * p - w)
        terms = (1 - eps) * wt * (p + onehot) + eps / n * (w.sum() * p + w)  # what may cancel
        err = np.abs(grad[ok].astype(np.float64) - want_grad)
        tol = 1e-6 if dtype == np.float32 else 1e-13
        assert np.all(err <= tol * terms + np.finfo(dtype).tiny * 4), np.max(err / terms)


def test_long_rows_cross_entropy_soft_targets(fast, isa):
    rng = np.random.default_rng(5)
    n = 40000
    x = np.stack([_row("far_apart", np.float32, n, rng), _row("late_max", np.float32, n, rng)])
    q = rng.random(x.shape).astype(np.float32)
    q /= q.sum(axis=1, keepdims=True)
    loss, grad = fast.cross_entropy(x, q, reduction="none", return_grad=True)
    want = cross_entropy_oracle(x, q, reduction="none")
    assert max_rel_diff(loss, want) <= 2e-6
    p = _oracle_softmax(x)
    assert np.all(np.abs(grad - (p - q)) <= 1e-6 * (p + q) + 1e-12)


def test_long_row_cross_entropy_tiny_loss(fast, isa):
    """The target is the only max and the rest sits in a later block: loss = log1p(e^-37)."""
    n = 3 * _block(np.float32)
    x = np.full((1, n), -np.inf, np.float32)
    x[0, 0] = 0
    x[0, n - 5] = -37
    loss, grad = fast.cross_entropy(x, np.array([0]), reduction="none", return_grad=True)
    want = np.log1p(np.exp(-37.0))
    assert abs(float(loss[0]) - want) <= 4e-7 * want
    assert abs(float(grad[0, 0]) + want) <= 4e-7 * want  # -(1 - p_t)
    assert abs(float(grad[0, n - 5]) - np.exp(-37.0)) <= 4e-7 * np.exp(-37.0)
