"""Rows done in groups (csm_rows.h reg_rows, csm_rows_lse.h, csm_losses.h ce_index_group_rows):
VL rows share their reductions, so a row's result must not depend on its group. Each batch mixes
ordinary rows with the rows that leave a group for the one-row rules (NaN, +inf, all -inf), rows
past the floating-point pivot (|max| >= 256: the group's c = 0 shortcut must not apply) and tiny
tails, at every position of a group and in partial groups. Checked against the reference, and
bit for bit against each row computed with its neighbour only, and against splits of the batch
(what threads do). A lone short row takes the one-row path and may differ (see
test_fast_vs_reference.test_a_row_gives_the_same_bits_alone_or_in_a_batch)."""

import numpy as np
import pytest

from helpers import assert_identical, assert_matches

# row lengths around every vector count of the register rows (float32 VL 16, float64 VL 8), the
# lane-per-row limit (32) and the medium rows
LENGTHS = [5, 9, 10, 16, 17, 24, 31, 32, 33, 64, 100, 128, 129, 257]


def batch(n, dtype, nrows=37, seed=0):
    rng = np.random.default_rng(seed + n)
    x = (rng.standard_normal((nrows, n)) * 3).astype(dtype)
    x[3, n // 2] = np.nan
    x[7, 0] = np.inf
    x[11] = -np.inf
    x[16] += 300       # past the pivot, in a group of rows below it
    x[17] -= 1000      # max far below 0
    x[20, :] = 0       # ties: every element at the max
    x[21, 1 % n] = 50  # one max, the rest ~e-50 below it (logsumexp just above 50)
    x[36] += 4000
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
def test_groups_match_reference_and_rows_alone(fast, reference, isa, func, n, dtype):
    x = batch(n, dtype)
    with np.errstate(all="ignore"):
        want = getattr(reference, func)(x, axis=-1)
    got = getattr(fast, func)(x, axis=-1)
    assert_matches(func, got, want, x)
    for r in range(x.shape[0] - 1):
        assert_identical(getattr(fast, func)(x[r:r + 2], axis=-1), got[r:r + 2])
    # split points of the batch (partial groups on both sides)
    for cut in (2, 15, 16, 17):
        parts = np.concatenate([getattr(fast, func)(x[:cut], axis=-1),
                                getattr(fast, func)(x[cut:], axis=-1)])
        assert_identical(parts, got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [33, 64, 100, 257])
def test_cross_entropy_groups(fast, reference, isa, n, dtype):
    x = batch(n, dtype)
    rng = np.random.default_rng(n)
    target = rng.integers(0, n, x.shape[0])
    target[5] = target[18] = -100      # ignored rows inside groups
    target[21] = 1 % n                 # the lone max: a loss near e-50
    with np.errstate(all="ignore"):
        want_loss, want_grad = reference.cross_entropy(x, target, reduction="none", return_grad=True)
    loss, grad = fast.cross_entropy(x, target, reduction="none", return_grad=True)
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(want_loss))
    ok = ~np.isnan(want_loss)
    np.testing.assert_allclose(loss[ok], want_loss[ok], rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=0)
    assert loss[5] == 0 and loss[18] == 0 and not grad[5].any() and not grad[18].any()
    np.testing.assert_allclose(grad[ok], want_grad[ok], rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-7 if dtype == np.float32 else 1e-16)
    for r in range(x.shape[0] - 1):
        lr, gr = fast.cross_entropy(x[r:r + 2], target[r:r + 2], reduction="none", return_grad=True)
        assert_identical(lr, loss[r:r + 2])
        assert_identical(gr, grad[r:r + 2])
