"""csoftmax: fast, numerically stable softmax, log-softmax, logsumexp and cross-entropy (with
its gradient) for NumPy arrays.

The hot paths are C kernels (src/), compiled for AVX-512, AVX2+FMA and baseline x86-64 and chosen
at import for this CPU (``CSOFTMAX_ISA=avx2`` or ``baseline`` forces a lower one); on aarch64 one
NEON build, ``neon``.
``csoftmax.reference`` is a pure-NumPy implementation of the same API and semantics.

>>> import numpy as np, csoftmax
>>> csoftmax.softmax(np.array([[0.0, np.log(3.0)]]))
array([[0.25, 0.75]])
"""
import warnings as _warnings

from . import reference
from ._core import (available_isas, get_isa, log_softmax, logsumexp, openmp_available,
                    softmax)
from ._core import _set_isa as _set_isa  # for tests and benchmarks: switch kernels
from ._core import (binary_cross_entropy, cross_entropy, log_sigmoid, log_softmax_backward,
                    nll_loss, sigmoid, softmax_backward)
from ._core import sample, top_k_softmax
from ._threads import get_num_threads, num_threads, set_num_threads
from ._output_cache import OutputCacheInfo, output_cache_info, set_output_cache
from ._core import log_softmax_from_stats, softmax_from_stats, softmax_stats
from ._stats import SoftmaxStats, combine_softmax_stats, logsumexp_from_stats
from ._chunk_losses import cross_entropy_from_stats
from . import _core
from . import _threadpoolctl  # noqa: F401  (registers the controller when available)


def _dask_module():
    from . import dask   # on the first Dask array only: dask is an optional dependency
    return dask


_core._route_dask_to(_dask_module)

__version__ = "0.1.0"
__all__ = [
    "softmax", "log_softmax", "logsumexp",
    "cross_entropy", "nll_loss", "softmax_backward", "log_softmax_backward",
    "sigmoid", "log_sigmoid", "binary_cross_entropy",
    "softmax_stats", "combine_softmax_stats", "softmax_from_stats", "log_softmax_from_stats",
    "logsumexp_from_stats", "SoftmaxStats", "cross_entropy_from_stats",
    "set_num_threads", "get_num_threads", "num_threads",
    "set_output_cache", "output_cache_info", "OutputCacheInfo",
    "get_isa", "available_isas", "openmp_available", "reference",
    "top_k_softmax", "sample",
]

if not _core._init_isa_from_env():
    import os as _os
    _warnings.warn(
        f"CSOFTMAX_ISA={_os.environ.get('CSOFTMAX_ISA')!r} is unknown or not supported by this "
        f"CPU (available: {', '.join(available_isas())}); using {get_isa()}",
        RuntimeWarning, stacklevel=2)
