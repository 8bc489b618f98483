"""Pure-NumPy reference of csoftmax's API: it defines the documented semantics, and the fast C
module must give the same results (up to rounding) and raise the same exceptions. It is also the
"NumPy" baseline of the benchmarks. Argument checks are shared with the fast module
(csoftmax/_validation.py, _fused_args.py, _loss_args.py, _decoding_args.py); these modules are
only the math, one family each:

* :mod:`~csoftmax.reference.softmax_family`: softmax, log_softmax, logsumexp (with the fused
  arguments; its docstring is the softmax family's specification).
* :mod:`~csoftmax.reference.losses`: cross_entropy, nll_loss, the backward passes, sigmoid,
  log_sigmoid, binary_cross_entropy.
* :mod:`~csoftmax.reference.decoding`: top_k_softmax, sample.
* :mod:`~csoftmax.reference.stats`: the statistics of rows split into chunks (softmax_stats,
  softmax_from_stats, log_softmax_from_stats; combine_softmax_stats, logsumexp_from_stats and
  SoftmaxStats are NumPy in both, from csoftmax/_stats.py).

Examples
--------
One function of each module, from the one namespace:

>>> import numpy as np, csoftmax.reference as r
>>> x = np.log(np.array([[1.0, 3.0]]))
>>> r.log_softmax(x).round(6), round(float(r.cross_entropy(x, [1])), 6)   # -log(3/4)
(array([[-1.386294, -0.287682]]), 0.287682)
>>> r.top_k_softmax(x, 1)[1], round(float(r.softmax_stats(x).excess[0]), 12)  # NumPy 1's exp: 1 ulp
(array([[1]]), 0.333333333333)
"""

from .._stats import SoftmaxStats, combine_softmax_stats, logsumexp_from_stats  # noqa: F401
from .decoding import sample, top_k_softmax
from .losses import (binary_cross_entropy, cross_entropy, log_sigmoid, log_softmax_backward,
                     nll_loss, sigmoid, softmax_backward)
from .softmax_family import log_softmax, logsumexp, softmax
from .stats import log_softmax_from_stats, softmax_from_stats, softmax_stats  # noqa: F401

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "nll_loss",
           "softmax_backward", "log_softmax_backward", "sigmoid", "log_sigmoid",
           "binary_cross_entropy", "top_k_softmax", "sample"]
