"""softmax / log_softmax / logsumexp: shapes x dtypes x implementations.

Each result is checked against csoftmax.reference before it is timed.
"""

from __future__ import annotations

from conftest import describe, prepare_checked

from csoftmax.bench.peers import Case


def _run(benchmark, op, peer, reference, logits):
    case = Case(op, logits, -1)
    prepared = prepare_checked(peer, case, getattr(reference, op)(logits, -1))
    describe(benchmark, peer, case)
    benchmark(prepared.call)


def test_softmax(benchmark, impl, shape, dtype, peer, reference, logits):
    _run(benchmark, "softmax", peer, reference, logits)


def test_log_softmax(benchmark, impl, shape, dtype, peer, reference, logits):
    _run(benchmark, "log_softmax", peer, reference, logits)


def test_logsumexp(benchmark, impl, shape, dtype, peer, reference, logits):
    _run(benchmark, "logsumexp", peer, reference, logits)
