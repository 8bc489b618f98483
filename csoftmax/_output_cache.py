"""The output cache: large result arrays are drawn from a few recently freed blocks.

A fresh multi-megabyte array can cost more than the softmax written into it: once other code has
freed its big temporaries, the C allocator hands that memory back to the OS, and every page of the
next result is faulted in again (measured: 2x the time of a 4096x1000 float32 softmax with SciPy
and ONNX Runtime calls in between). So csoftmax keeps up to ``CSOFTMAX_OUTPUT_CACHE`` bytes
(default 64 MiB, at most 8 blocks, blocks of 128 KiB and more) of the results you have dropped
and reuses them for the next ones, as ONNX Runtime's arena does. Arrays from the cache are
ordinary NumPy arrays that own their data. ``out=`` avoids the question altogether.
"""
import os
import re
import warnings
from typing import NamedTuple

from . import _core

__all__ = ["set_output_cache", "output_cache_info", "OutputCacheInfo"]

DEFAULT_LIMIT = 64 << 20
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


class OutputCacheInfo(NamedTuple):
    limit: int          #: most bytes kept (0: caching is off)
    cached_bytes: int   #: bytes held now, by no array
    cached_blocks: int


def _parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([kmg]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if m is None:
        raise ValueError(text)
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def _default_limit():
    env = os.environ.get("CSOFTMAX_OUTPUT_CACHE", "").strip()
    if env:
        try:
            return _parse_size(env)
        except ValueError:
            warnings.warn(f"CSOFTMAX_OUTPUT_CACHE={env!r} is not a size such as 0, 1048576 or "
                          f"256M; using the default ({DEFAULT_LIMIT >> 20}M)",
                          RuntimeWarning, stacklevel=3)
    return DEFAULT_LIMIT


def set_output_cache(max_bytes):
    """Keep at most `max_bytes` of dropped result arrays for reuse; return the previous limit.

    0 turns the cache off and frees what it holds. Only blocks of 128 KiB and more are cached,
    at most 8 of them. The start-up limit is ``CSOFTMAX_OUTPUT_CACHE`` (bytes, or with a K, M or
    G suffix), else 64 MiB.

    Examples
    --------
    >>> import csoftmax
    >>> previous = csoftmax.set_output_cache(0)    # off: every result is a fresh allocation
    >>> csoftmax.output_cache_info().cached_bytes
    0
    >>> _ = csoftmax.set_output_cache(previous)
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"max_bytes must be an int, got {type(max_bytes).__name__}")
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
    return _core._set_output_cache_limit(max_bytes)


def output_cache_info():
    """The cache's limit and what it holds now, as ``OutputCacheInfo(limit, cached_bytes,
    cached_blocks)``.

    Examples
    --------
    >>> import numpy as np, csoftmax
    >>> previous = csoftmax.set_output_cache(1 << 20)
    >>> y = csoftmax.softmax(np.zeros((512, 256)))    # 1 MiB of float64
    >>> del y                                         # its block goes to the cache ...
    >>> csoftmax.output_cache_info()
    OutputCacheInfo(limit=1048576, cached_bytes=1048576, cached_blocks=1)
    >>> y = csoftmax.softmax(np.ones((512, 256)))     # ... and comes back for the next result
    >>> csoftmax.output_cache_info().cached_blocks
    0
    >>> _ = csoftmax.set_output_cache(previous)
    """
    return OutputCacheInfo(*_core._output_cache_state())


_core._set_output_cache_limit(_default_limit())
