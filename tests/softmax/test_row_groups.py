"""Rows done in groups (csm_rows.h reg_rows, csm_rows_lse.h): VL rows share their reductions, so a
row's result must not depend on its group (cross-entropy's groups: losses/test_row_groups.py).
Each batch (helpers.grouped_rows) mixes ordinary rows with the rows that leave a group for the
one-row rules (NaN, +inf, all -inf), rows past the floating-point pivot (|max| >= 256: the group's
c = 0 shortcut must not apply) and tiny tails, at every position of a group and in partial groups.
Checked against the reference, and bit for bit against each row computed with its neighbour only,
and against splits of the batch (what threads do). A lone short row takes the one-row path and may differ (see
softmax/test_fast_vs_reference.py, test_a_row_gives_the_same_bits_alone_or_in_a_batch)."""

import numpy as np
import pytest

from helpers import assert_identical, assert_matches, grouped_rows

# row lengths around every vector count of the register rows (float32 VL 16, float64 VL 8), the
# lane-per-row limit (32) and the medium rows
LENGTHS = [5, 9, 10, 16, 17, 24, 31, 32, 33, 64, 100, 128, 129, 257]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
def test_groups_match_reference_and_rows_alone(fast, reference, isa, func, n, dtype):
    x = grouped_rows(n, dtype)
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
