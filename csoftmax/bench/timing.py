"""Timing primitive for ``csoftmax.bench``: honest medians of repeated calls.

One *sample* runs the call ``number`` times back to back and records the mean
time per call; ``number`` is chosen so one sample lasts at least
``target_sample_s`` (so timer resolution and loop overhead stay negligible).
The reported figure is the median over samples, which shrugs off the
occasional hiccup of a shared, noisy machine better than the mean or the min.
"""

from __future__ import annotations

import gc
import itertools
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, List, Sequence


@dataclass(frozen=True)
class TimingPolicy:
    """How long and how often to measure one cell (one implementation x case)."""

    target_sample_s: float = 2e-3  # one sample lasts at least this long
    min_samples: int = 7  # the median needs at least this many samples ...
    max_samples: int = 25  # ... and no more than this many
    budget_s: float = 0.4  # per timed call: stop adding samples after this long
    hard_cap_s: float = 4.0  # per timed call: very slow calls settle for fewer samples
    floor_samples: int = 3  # ... but never fewer than this
    warmup_s: float = 0.01  # run at least this long before measuring


QUICK_POLICY = TimingPolicy(
    target_sample_s=1e-3, min_samples=7, max_samples=9, budget_s=0.08, hard_cap_s=0.6, warmup_s=0.003
)


@dataclass
class Timing:
    """Result of timing one call: per-call seconds of every sample."""

    samples: List[float] = field(default_factory=list)
    number: int = 1  # calls per sample

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median (a noise indicator)."""
        if len(self.samples) < 4:
            return float("nan")
        q = statistics.quantiles(self.samples, n=4)
        return (q[2] - q[0]) / self.median

    def as_dict(self) -> dict:
        return {
            "median_s": self.median,
            "min_s": min(self.samples),
            "spread": None if math.isnan(self.spread) else self.spread,  # JSON has no NaN
            "number": self.number,
            "samples_s": list(self.samples),
        }


def _run(call: Callable[[], object], number: int) -> float:
    """Seconds per call over ``number`` back-to-back calls (timeit-style loop)."""
    loop = itertools.repeat(None, number)
    t0 = time.perf_counter()
    for _ in loop:
        call()
    return (time.perf_counter() - t0) / number


def _calibrate(call: Callable[[], object], policy: TimingPolicy) -> int:
    """Warm up ``call``; return how many calls make one sample of >= target."""
    # First calls pay for lazy initialisation, page faults on fresh buffers
    # and cold caches; none of that is steady-state cost.
    per_call = _run(call, 1)
    warm_start = time.perf_counter()
    while time.perf_counter() - warm_start < policy.warmup_s:
        per_call = min(per_call, _run(call, 1))
    return max(1, math.ceil(policy.target_sample_s / max(per_call, 1e-9)))


def measure_many(calls: Sequence[Callable[[], object]], policy: TimingPolicy = TimingPolicy()) -> List[Timing]:
    """Time several calls with interleaved samples (round-robin).

    On a shared machine, load comes in bursts.  Taking sample i of every call
    before sample i + 1 of any spreads a burst over all of them, so their
    ratios (the speedups the report is about) stay honest even when the
    absolute times wobble.  Budgets scale with the number of calls.

    The garbage collector is paused while timing (as ``timeit`` does) so a
    collection triggered by someone else's garbage does not land in a sample.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        timings = [Timing(number=_calibrate(call, policy)) for call in calls]
        k = max(len(calls), 1)
        start = time.perf_counter()
        for n in range(1, policy.max_samples + 1):
            for call, timing in zip(calls, timings):
                timing.samples.append(_run(call, timing.number))
            elapsed = time.perf_counter() - start
            if n >= policy.min_samples and elapsed >= policy.budget_s * k:
                break
            # Calls so slow that min_samples rounds would blow the hard cap
            # settle for fewer samples (never fewer than floor_samples).
            if n >= policy.floor_samples and elapsed + elapsed / n > policy.hard_cap_s * k:
                break
        return timings
    finally:
        if gc_was_enabled:
            gc.enable()


def measure(call: Callable[[], object], policy: TimingPolicy = TimingPolicy()) -> Timing:
    """Time one call: see :func:`measure_many`."""
    return measure_many([call], policy)[0]
