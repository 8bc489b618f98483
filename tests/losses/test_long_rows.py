"""cross_entropy on rows larger than 128 KB, which the fast module reads once, in 8 KB blocks,
each block under its own exponent shift (src/csm_rows_long.h): index and probability targets,
weights and label smoothing, against the reference and a float64 oracle, with what the blocks must
merge put in chosen blocks (helpers.long_row; the softmax family: softmax/test_long_rows.py)."""

import numpy as np
import pytest

from helpers import cross_entropy_oracle, long_row, long_row_block, max_rel_diff, softmax_oracle

# (dtype, row length): just over 128 KB
LENGTHS = [(np.float32, 40000), (np.float64, 20000)]
IDS = [f"{np.dtype(d).name}-{n}" for d, n in LENGTHS]


@pytest.mark.parametrize("dtype,n", LENGTHS, ids=IDS)
@pytest.mark.parametrize("kind", ["normal", "late_max", "ties_across_blocks", "far_apart",
                                  "neginf_blocks", "nan_late", "pivot_late"])
def test_long_rows_cross_entropy(fast, reference, isa, kind, dtype, n):
    rng = np.random.default_rng(11)
    x = np.stack([long_row(kind, dtype, n, rng), long_row("late_max", dtype, n, rng)])
    B = long_row_block(dtype)
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
        p = softmax_oracle(x[ok])
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
    x = np.stack([long_row("far_apart", np.float32, n, rng), long_row("late_max", np.float32, n, rng)])
    q = rng.random(x.shape).astype(np.float32)
    q /= q.sum(axis=1, keepdims=True)
    loss, grad = fast.cross_entropy(x, q, reduction="none", return_grad=True)
    want = cross_entropy_oracle(x, q, reduction="none")
    assert max_rel_diff(loss, want) <= 2e-6
    p = softmax_oracle(x)
    assert np.all(np.abs(grad - (p - q)) <= 1e-6 * (p + q) + 1e-12)


def test_long_row_cross_entropy_tiny_loss(fast, isa):
    """The target is the only max and the rest sits in a later block: loss = log1p(e^-37)."""
    n = 3 * long_row_block(np.float32)
    x = np.full((1, n), -np.inf, np.float32)
    x[0, 0] = 0
    x[0, n - 5] = -37
    loss, grad = fast.cross_entropy(x, np.array([0]), reduction="none", return_grad=True)
    want = np.log1p(np.exp(-37.0))
    assert abs(float(loss[0]) - want) <= 4e-7 * want
    assert abs(float(grad[0, 0]) + want) <= 4e-7 * want  # -(1 - p_t)
    assert abs(float(grad[0, n - 5]) - np.exp(-37.0)) <= 4e-7 * np.exp(-37.0)
