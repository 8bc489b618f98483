"""Benchmark csoftmax against its peers: ``python -m csoftmax.bench`` (installed as ``csoftmax-bench``).

Modules: ``cli`` (options and ``main``), ``peers`` (csoftmax and the implementations it is compared
with), ``runner`` (inputs, correctness checks, rows of timed cells), ``timing`` (the timer),
``environment`` (machine and software facts), ``report`` (tables and JSON), ``plot`` (``--plot``).
"""

from .cli import main

__all__ = ["main"]
