"""Cross-entropy loss + gradient: csoftmax vs the NumPy reference vs PyTorch and JAX.

csoftmax and the reference compute (loss, grad) in one call with
``return_grad=True``; PyTorch runs forward + backward, the way a training step
gets the gradient, and JAX ``jax.value_and_grad`` of the mean loss, jitted.
Mean reduction, int64 class labels, classes on the last axis.
"""

from __future__ import annotations

import pytest
from conftest import describe, prepare_checked

from csoftmax.bench.peers import Case

#: The peers that implement a cross-entropy gradient.
IMPLS = ("csoftmax", "numpy", "torch", "jax")


def test_cross_entropy_grad(benchmark, impl, shape, dtype, peer, reference, logits, targets):
    if logits.ndim != 2:
        pytest.skip("cross_entropy benchmarks use (N, C) logits")
    case = Case("cross_entropy", logits, -1, target=targets)
    expected = reference.cross_entropy(logits, targets, return_grad=True)
    prepared = prepare_checked(peer, case, expected)
    describe(benchmark, peer, case)
    benchmark(prepared.call)
