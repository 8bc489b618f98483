"""Benchmark csoftmax against its peers: ``python -m csoftmax.bench`` (installed as ``csoftmax-bench``).

The user-facing command: one table, every result checked against ``csoftmax.reference``, on the
user's machine; installed with the package. For developers, ``benchmarks/`` runs the same
comparisons under pytest-benchmark (saved runs compared across commits) and ``tools/`` holds the
kernel harnesses (two builds A/B, cycles per element from C).

Modules: ``cli`` (options and ``main``), ``peers`` (csoftmax and the implementations it is compared
with), ``runner`` (inputs, correctness checks, rows of timed cells), ``timing`` (the timer),
``environment`` (machine and software facts), ``report`` (tables and JSON), ``plot`` (``--plot``),
``fused`` (the scale / causal bias / where= and half-precision section), ``on_dask`` (``--dask``),
``decoding`` (``python -m csoftmax.bench.decoding``: sample and top_k_softmax).
"""

from .cli import main

__all__ = ["main"]
