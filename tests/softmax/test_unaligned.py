"""Misaligned arrays (a float view at an odd byte offset) give the aligned results, bit for
bit, on every instruction-set build: softmax, log_softmax and logsumexp, inputs and ``out=``
(the losses: losses/test_unaligned.py).

The kernels may only dereference aligned element pointers (anything else is undefined
behaviour in C); the layer above copies what is misaligned. Run against a build with UBSan,
this file also reports any misaligned access that gets through.
"""
import numpy as np
import pytest

from helpers import FLOATS, check_same_bits, draw, fast_module, misaligned, misaligned_pairs

csoftmax = fast_module()

SHAPES = [(7, 37), (40, 1000), (3, 70000)]   # short rows, plain rows, long (blocked) rows


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family(isa, func, shape, dtype):
    x = draw(shape, dtype, seed=0, scale=5)
    fn = getattr(csoftmax, func)
    for a, m in misaligned_pairs(x):
        for axis in (-1, 0, None):
            check_same_bits(fn, (a,), (m,), axis=axis)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_into_misaligned_out(isa, func, dtype):
    x = draw((33, 129), dtype, seed=1, scale=5)
    fn = getattr(csoftmax, func)
    for axis in (-1, 0):
        want = fn(x, axis=axis)
        out = misaligned(np.zeros(np.shape(want), dtype))
        assert fn(x, axis=axis, out=out) is out
        np.testing.assert_array_equal(out, want)
        inplace = misaligned(x)
        if func != "logsumexp":
            assert fn(inplace, axis=axis, out=inplace) is inplace
            np.testing.assert_array_equal(inplace, want)
