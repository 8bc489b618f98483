"""cross_entropy on rows done in groups (csm_losses.h ce_index_group_rows): VL rows share their
reductions, so a row's loss and gradient must not depend on its group. The batch
(helpers.grouped_rows) mixes ordinary rows with NaN, +inf and all -inf rows, rows past the
floating-point pivot and a lone max, with ignored rows inside groups; checked against the
reference and bit for bit against each row computed with its neighbour only."""

import numpy as np
import pytest

from helpers import assert_identical, grouped_rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [33, 64, 100, 257])
def test_cross_entropy_groups(fast, reference, isa, n, dtype):
    x = grouped_rows(n, dtype)
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
