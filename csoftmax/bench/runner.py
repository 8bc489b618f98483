"""Run benchmark rows: make inputs, check every result, time, derive metrics.

A *row* is one case (operation, dtype, shape, axis) measured for every peer;
a *cell* is one peer's measurement in that row.  Each cell is checked against
``csoftmax.reference`` before it is timed: a wrong result is reported as
WRONG and never timed, so no speedup is ever claimed for a wrong answer.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import csoftmax

from .peers import Case, Peer
from .timing import Timing, TimingPolicy, measure, measure_many

#: Once the run's deadline has passed, every remaining cell gets this bare
#: minimum, so a slow or overloaded machine still finishes in bounded time.
LATE_POLICY = TimingPolicy(
    target_sample_s=5e-4, min_samples=3, max_samples=3, budget_s=0.0, hard_cap_s=0.0, warmup_s=0.0
)

#: (rtol, atol relative to the largest expected magnitude) per dtype.  The
#: atol is scaled so tiny gradients (mean reduction over many rows) and
#: near-zero probabilities are still checked meaningfully.
TOLERANCES = {np.dtype(np.float32): (1e-4, 1e-6), np.dtype(np.float64): (1e-9, 1e-12)}


@dataclass
class RowSpec:
    """What to measure in one row."""

    section: str  # "main", "float64", "axis", "isa"
    op: str
    dtype: str
    shape: Tuple[int, ...]
    axis: int = -1
    use_out: bool = False  # preallocate out= for peers that support it
    label: str = ""  # row label; defaults to the shape
    isas: Optional[Sequence[str]] = None  # time csoftmax once per ISA path instead of peers

    def __post_init__(self) -> None:
        self.label = self.label or shape_label(self.shape)


@dataclass
class Cell:
    """One peer's outcome in a row."""

    impl: str
    status: str  # "ok", "WRONG", "error", "n/a"
    timing: Optional[Timing] = None
    out_used: bool = False
    note: str = ""

    @property
    def median(self) -> Optional[float]:
        return self.timing.median if self.status == "ok" and self.timing else None


@dataclass
class Row:
    spec: RowSpec
    bytes_moved: int  # minimal bytes read + written by one call
    cells: Dict[str, Cell] = field(default_factory=dict)
    memcpy: Optional[Timing] = None

    def time(self, impl: str) -> Optional[float]:
        cell = self.cells.get(impl)
        return cell.median if cell else None

    def speedup(self, peer: str) -> Optional[float]:
        """How many times faster csoftmax is than ``peer`` (peer / csoftmax)."""
        mine, theirs = self.time("csoftmax"), self.time(peer)
        return theirs / mine if mine and theirs else None

    def best_peer(self) -> Optional[Tuple[str, float]]:
        """The fastest peer in this row and csoftmax's speedup over it (its time / csoftmax's)."""
        mine = self.time("csoftmax")
        times = {name: self.time(name) for name in self.cells if name != "csoftmax"}
        times = {name: t for name, t in times.items() if t}
        if not mine or not times:
            return None
        name = min(times, key=times.get)
        return name, times[name] / mine

    def gbps(self, impl: str = "csoftmax") -> Optional[float]:
        """Throughput of ``impl``: minimal bytes moved / median time."""
        t = self.time(impl)
        return self.bytes_moved / t / 1e9 if t else None

    def memcpy_ratio(self, impl: str = "csoftmax") -> Optional[float]:
        """``impl`` time / np.copyto time of the same array (1.0 = as fast as a copy)."""
        t = self.time(impl)
        return t / self.memcpy.median if t and self.memcpy else None

    def as_dict(self) -> dict:
        spec, best = self.spec, self.best_peer()
        return {
            "section": spec.section,
            "op": spec.op,
            "dtype": spec.dtype,
            "shape": list(spec.shape),
            "axis": spec.axis,
            "label": spec.label,
            "isas": list(spec.isas) if spec.isas else None,
            "out_preallocated": spec.use_out,
            "bytes_moved": self.bytes_moved,
            "memcpy": self.memcpy.as_dict() if self.memcpy else None,
            "speedup": {name: self.speedup(name) for name in self.cells if name != "csoftmax"},
            "best_peer": {"name": best[0], "speedup": best[1]} if best else None,
            "cells": {
                name: {
                    "status": c.status,
                    "out_used": c.out_used,
                    "note": c.note,
                    "gb_per_s": self.gbps(name),
                    "memcpy_ratio": self.memcpy_ratio(name),
                    **(c.timing.as_dict() if c.timing else {}),
                }
                for name, c in self.cells.items()
            },
        }


def shape_label(shape: Sequence[int]) -> str:
    return "x".join(str(n) for n in shape)


def parse_shapes(text: str) -> List[Tuple[int, ...]]:
    """``"64x1000,8x16x128x128"`` -> ``[(64, 1000), (8, 16, 128, 128)]`` (any number of dimensions)."""
    shapes = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        try:
            dims = tuple(int(d) for d in item.lower().split("x"))
        except ValueError:
            raise ValueError(f"bad shape {item!r}: expected e.g. 64x1000 or 8x16x128x128") from None
        if not dims or min(dims) < 1:
            raise ValueError(f"bad shape {item!r}: dimensions must be >= 1")
        shapes.append(dims)
    if not shapes:
        raise ValueError("no shapes given")
    return shapes


def make_logits(shape: Sequence[int], dtype: str, seed: int) -> np.ndarray:
    """Random normal logits * 3 (a realistic spread), reproducible by seed."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(tuple(shape), dtype=np.dtype(dtype).type)
    x *= 3
    return x


def make_targets(x: np.ndarray, axis: int, seed: int) -> np.ndarray:
    """int64 class labels, one per row (int64: what PyTorch insists on)."""
    classes = x.shape[axis]
    return np.random.default_rng(seed + 1).integers(0, classes, size=x.size // classes, dtype=np.int64)


def result_shape(op: str, shape: Tuple[int, ...], axis: int) -> Tuple[int, ...]:
    if op == "logsumexp":
        return tuple(n for i, n in enumerate(shape) if i != axis % len(shape))
    return shape


def check(result: object, expected: object, dtype: np.dtype) -> Tuple[bool, str]:
    """Compare (possibly tuple) results; return (ok, note on the worst error)."""
    if isinstance(expected, tuple):
        if not isinstance(result, (tuple, list)) or len(result) != len(expected):
            return False, "result is not a (loss, grad) pair"
        for r, e in zip(result, expected):
            ok, note = check(r, e, dtype)
            if not ok:
                return ok, note
        return True, ""
    r, e = np.asarray(result), np.asarray(expected)
    if r.shape != e.shape:
        return False, f"shape {r.shape} != expected {e.shape}"
    rtol, atol_rel = TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float32)])
    atol = atol_rel * float(np.max(np.abs(e), initial=0.0))
    if np.allclose(r, e, rtol=rtol, atol=atol, equal_nan=True):
        return True, ""
    with np.errstate(all="ignore"):
        err = np.abs(r.astype(np.float64) - e) / (atol + rtol * np.abs(e))
    worst = np.unravel_index(np.nanargmax(err), err.shape) if err.ndim else ()
    return False, f"at {tuple(int(i) for i in worst)}: got {float(r[worst]):.9g}, expected {float(e[worst]):.9g}"


class Progress:
    """One line per finished cell on stderr: works in logs, not only on TTYs."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.done, self.enabled = total, 0, enabled

    def report(self, what: str, result: str) -> None:
        self.done += 1
        if self.enabled:
            width = len(str(self.total))
            print(f"[{self.done:>{width}}/{self.total}] {what}: {result}", file=sys.stderr, flush=True)


def format_us(seconds: float) -> str:
    us = seconds * 1e6
    if us < 10:
        return f"{us:.2f}"
    if us < 100:
        return f"{us:.1f}"
    return f"{us:.0f}"


class Runner:
    """Runs rows with a fixed set of peers, timing policy and input seed."""

    def __init__(
        self,
        peers: List[Peer],
        policy: TimingPolicy,
        progress: Progress,
        seed: int = 0,
        deadline: Optional[float] = None,  # time.monotonic() value
    ):
        self.peers, self._policy = peers, policy
        self.progress, self.seed, self.deadline = progress, seed, deadline
        self.deadline_hit = False
        self._inputs: Dict[tuple, np.ndarray] = {}  # only the latest: inputs can be 256 MiB

    @property
    def policy(self) -> TimingPolicy:
        if self.deadline is not None and time.monotonic() > self.deadline:
            if not self.deadline_hit:
                print("time limit reached: measuring the remaining cells with 3 samples each", file=sys.stderr)
            self.deadline_hit = True
            return LATE_POLICY
        return self._policy

    @staticmethod
    def cells_per_row(spec: RowSpec, peers: List[Peer]) -> int:
        """Progress ticks a row will report (each peer + the memcpy baseline)."""
        if spec.isas:
            return len(spec.isas) + 1
        return len(peers) + 1

    def _input(self, spec: RowSpec) -> np.ndarray:
        key = (spec.shape, spec.dtype)
        if key not in self._inputs:
            self._inputs.clear()  # free the previous (possibly huge) input first
            self._inputs[key] = make_logits(spec.shape, spec.dtype, self.seed)
        return self._inputs[key]

    def _expected(self, op: str, x: np.ndarray, axis: int, target) -> object:
        fn = getattr(csoftmax.reference, op)
        if op == "cross_entropy":
            return fn(x, target, axis=axis, return_grad=True)
        return fn(x, axis)

    def run_row(self, spec: RowSpec) -> Row:
        """Check every cell, then time the correct ones and memcpy, interleaved."""
        x = self._input(spec)
        target = make_targets(x, spec.axis, self.seed) if spec.op == "cross_entropy" else None
        expected = self._expected(spec.op, x, spec.axis, target)
        row = Row(spec, bytes_moved=_bytes_moved(x, expected, target))
        if spec.isas:
            timed = self._isa_cells(row, x, expected)
        else:
            timed = self._peer_cells(row, x, expected, target)
        del expected  # can be 256 MiB
        dst = np.empty_like(x)
        timed["memcpy"] = functools.partial(np.copyto, dst, x)
        previous_isa = csoftmax.get_isa() if spec.isas else None
        try:
            timings = self._measure(timed, row)
        finally:
            if previous_isa is not None:
                csoftmax._set_isa(previous_isa)
        row.memcpy = timings.pop("memcpy")
        what = f"{spec.op} {spec.dtype} {spec.label}"
        for name, cell in row.cells.items():
            cell.timing = timings.get(name)
            self.progress.report(f"{what} {name}", _describe(cell))
        self.progress.report(f"{what} memcpy", format_us(row.memcpy.median) + " µs")
        return row

    def _peer_cells(self, row: Row, x: np.ndarray, expected, target) -> Dict[str, Callable[[], object]]:
        """Check each peer; return the calls of those that were right."""
        spec, out = row.spec, None
        if spec.use_out and spec.op != "cross_entropy":
            # One buffer shared by the peers in turn: 256 MiB each would add up.
            out = np.empty(result_shape(spec.op, x.shape, spec.axis), dtype=x.dtype)
        timed: Dict[str, Callable[[], object]] = {}
        for peer in self.peers:
            case = Case(spec.op, x, spec.axis, out if peer.supports_out else None, target)
            row.cells[peer.name], call = self._check_cell(peer, case, expected)
            if call is not None:
                timed[peer.name] = call
        return timed

    def _isa_cells(self, row: Row, x: np.ndarray, expected) -> Dict[str, Callable[[], object]]:
        """One cell per csoftmax ISA path; the call selects its path each time.

        Switching inside the timed call (well under a microsecond) lets the
        paths be sampled round-robin like peers, so their ratio is fair.
        """
        spec = row.spec
        fn = getattr(csoftmax, spec.op)
        timed: Dict[str, Callable[[], object]] = {}
        previous = csoftmax.get_isa()
        try:
            for isa in spec.isas:
                call = functools.partial(_with_isa, csoftmax._set_isa, isa, fn, x, spec.axis)
                try:
                    ok, note = check(call(), expected, x.dtype)
                except Exception as exc:
                    ok, note = False, f"{type(exc).__name__}: {exc}"
                    row.cells[isa] = Cell(isa, "error", note=note)
                    continue
                row.cells[isa] = Cell(isa, "ok" if ok else "WRONG", note=note)
                if ok:
                    timed[isa] = call
        finally:
            csoftmax._set_isa(previous)
        return timed

    def _measure(self, timed: Dict[str, Callable[[], object]], row: Row) -> Dict[str, Timing]:
        """Interleaved timing; if a call fails mid-way, time the rest one by one."""
        try:
            return dict(zip(timed, measure_many(list(timed.values()), self.policy)))
        except Exception:
            timings = {}
            for name, call in timed.items():
                try:
                    timings[name] = measure(call, self.policy)
                except Exception as exc:
                    row.cells[name] = Cell(name, "error", note=f"while timing: {type(exc).__name__}: {exc}")
            return timings

    def _check_cell(self, peer: Peer, case: Case, expected: object) -> Tuple[Cell, Optional[Callable]]:
        """Run ``peer`` once and compare; return its cell and, if correct, its call."""
        out_used = case.out is not None
        try:
            prepared = peer.prepare(case)
            if prepared is None:
                return Cell(peer.name, "n/a"), None
            if out_used:
                case.out.fill(np.nan)  # a peer that ignores out= must not pass on stale data
            ok, note = check(prepared.to_numpy(prepared.call()), expected, case.x.dtype)
            if ok and out_used:
                ok, note = check(case.out, expected, case.x.dtype)
                note = note and "out= buffer not written: " + note
            if not ok:
                return Cell(peer.name, "WRONG", out_used=out_used, note=note), None
            return Cell(peer.name, "ok", out_used=out_used), prepared.call
        except Exception as exc:  # a peer failing must not end the run
            return Cell(peer.name, "error", out_used=out_used, note=f"{type(exc).__name__}: {exc}"), None

    def run_calls(self, title: str, calls: List[Tuple[str, Callable[[], object]]]) -> List[Tuple[str, Timing]]:
        """Time free-form callables (the whole-call section); no checks."""
        timings = measure_many([call for _, call in calls], self.policy)
        for (label, _), timing in zip(calls, timings):
            self.progress.report(f"{title} {label}", format_us(timing.median) + " µs")
        return [(label, timing) for (label, _), timing in zip(calls, timings)]


def _describe(cell: Cell) -> str:
    if cell.status == "ok":
        return format_us(cell.median) + " µs"
    return cell.status + (f" ({cell.note})" if cell.note else "")


def _bytes_moved(x: np.ndarray, expected: object, target) -> int:
    """Minimal traffic of one call: every input byte read, every output byte written."""
    outputs = expected if isinstance(expected, tuple) else (expected,)
    written = sum(np.asarray(o).nbytes for o in outputs)
    return x.nbytes + written + (target.nbytes if target is not None else 0)


def _with_isa(set_isa, isa: str, fn, x: np.ndarray, axis: int):
    set_isa(isa)
    return fn(x, axis)
