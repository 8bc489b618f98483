"""A reduced axis that is not the last, on blocks over 1 MB (the column kernels, src/csm_cols.h,
with rows thousands of bytes apart, and split over columns when threads are on). Checked against
the reference on every dispatch path, with special columns, a partial last chunk, several outer
blocks, a negative row stride, and a very long reduced axis."""

import numpy as np
import pytest

from helpers import FUNCS, assert_matches, check_all


def _with_specials(x):
    x[:, 3] = np.nan  # NaN column
    x[:, 7] = -np.inf  # no finite max
    x[5, 11] = np.inf
    x[::2, 13] = -np.inf  # -inf next to a finite max
    x[-1, -1] = np.nan  # in the partial last chunk
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axis0_large_block(fast, reference, isa, dtype):
    rng = np.random.default_rng(1)
    x = _with_specials((rng.standard_normal((700, 523)) * 5).astype(dtype))
    check_all(fast, reference, x, axis=0)
    check_all(fast, reference, x[::-1], axis=0)  # negative row stride


def test_middle_axis_of_3d_large_block(fast, reference, isa):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3, 400, 300)) * 20).astype(np.float64)
    x[1, :, 4] = -np.inf
    x[2, 9, 40] = np.nan
    check_all(fast, reference, x, axis=1)


def test_axis0_very_long(fast, reference, isa):
    rng = np.random.default_rng(3)
    x = _with_specials(rng.standard_normal((270000, 40)).astype(np.float32))
    for func in FUNCS:
        got = getattr(fast, func)(x, axis=0)
        # summed in float64: float32 NumPy sums over 270000 rows drift past the tolerance
        want = getattr(reference, func)(x.astype(np.float64), axis=0).astype(np.float32)
        assert_matches(func, got, want, x, axis=0)
