"""A 3-D array with one outer axis reversed (``x[:, ::-1, :]``): its outer axes do not collapse
into evenly spaced rows, so the layer must not pass it to a row kernel as if they did (taking
``abs()`` of the strides there reads memory before the buffer). Every function, every dtype,
inputs and ``out=``, against the same call on a C-contiguous copy and against the reference: the
softmax family here, the losses in losses/test_reversed_outer_axis.py. (The softmax family over
every axis and layout is in softmax/test_fast_vs_reference.py.)"""
import numpy as np
import pytest

from helpers import FLOATS, assert_identical, assert_near_reference, draw, in_layout

SHAPE = (3, 5, 37)


def _draw(dtype, seed, scale=4.0):
    return draw(SHAPE, dtype, seed=seed, scale=scale)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax_family_into_reversed_out(fast, reference, isa, func, axis, dtype):
    x = _draw(dtype, 1)
    want = getattr(fast, func)(x, axis=axis)
    assert_near_reference(want, getattr(reference, func)(x, axis=axis))
    rx = in_layout(x, "reversed_middle")
    assert_identical(getattr(fast, func)(rx, axis=axis), want)
    if want.ndim == 3:
        out = in_layout(np.zeros_like(x), "reversed_middle")
        assert getattr(fast, func)(rx, axis=axis, out=out) is out
        assert_identical(out, want)
        assert getattr(fast, func)(rx, axis=axis, out=rx) is rx   # in place
        assert_identical(rx, want)
    else:
        out = np.zeros(want.shape[::-1], dtype).T[::-1]            # reversed outer axis
        assert getattr(fast, func)(x, axis=axis, out=out) is out
        assert_identical(out, want)
