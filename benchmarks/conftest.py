"""Parameters and fixtures shared by the pytest-benchmark suites.

Every benchmark test takes the parameters ``impl`` (csoftmax, numpy, scipy,
torch, onnxruntime, jax), ``shape`` (e.g. ``64x1000`` or ``8x16x128x128``,
reduced over the last axis) and ``dtype``, so the
results can be grouped with ``--benchmark-group-by=param:shape`` and compared
across runs with ``--benchmark-save`` / ``--benchmark-compare``.  A peer that
is not installed is skipped, never an error.  The implementations themselves
live in ``csoftmax.bench.peers`` and are shared with ``python -m csoftmax.bench``.
"""

from __future__ import annotations

import functools

import pytest

import csoftmax
from csoftmax.bench.peers import PEER_ORDER, Case, load_peers
from csoftmax.bench.runner import check, make_logits, make_targets, parse_shapes, shape_label

DEFAULT_SHAPES = "1x10,64x1000,4096x1000,8x128256,16384x10,8x16x128x128"
#: Only with --bench-slow: 256 MiB per array, seconds per test for the peers.
SLOW_SHAPES = "65536x1024"
DEFAULT_DTYPES = "float32,float64"
SEED = 0


def pytest_addoption(parser):
    group = parser.getgroup("csoftmax benchmarks")
    group.addoption("--bench-shapes", help=f"comma-separated shapes, e.g. 64x1000 (default {DEFAULT_SHAPES})")
    group.addoption("--bench-dtypes", default=DEFAULT_DTYPES, help=f"default {DEFAULT_DTYPES}")
    group.addoption("--bench-impls", help=f"comma-separated subset of {','.join(PEER_ORDER)}")
    group.addoption("--bench-threads", type=int, default=1, help="threads for csoftmax/torch/onnxruntime/jax")
    group.addoption("--bench-slow", action="store_true", help=f"also run the slow shapes ({SLOW_SHAPES})")


def pytest_generate_tests(metafunc):
    """Parametrize ``shape``, ``dtype`` and ``impl`` by name (for group-by)."""
    opt = metafunc.config.getoption
    if "shape" in metafunc.fixturenames:
        # Labels ("64x1000"), not tuples: they name the groups and saved runs.
        params = [shape_label(s) for s in parse_shapes(opt("--bench-shapes") or DEFAULT_SHAPES)]
        params += [pytest.param(shape_label(s), marks=pytest.mark.slow) for s in parse_shapes(SLOW_SHAPES)]
        metafunc.parametrize("shape", params)
    if "dtype" in metafunc.fixturenames:
        metafunc.parametrize("dtype", _split(opt("--bench-dtypes")))
    if "impl" in metafunc.fixturenames:
        # A test module may narrow the implementations with IMPLS.
        impls = getattr(metafunc.module, "IMPLS", PEER_ORDER)
        wanted = _split(opt("--bench-impls")) if opt("--bench-impls") else impls
        metafunc.parametrize("impl", [i for i in impls if i in wanted])


def pytest_collection_modifyitems(config, items):
    """Deselect slow cases unless --bench-slow (deselected, not skipped: no noise)."""
    if config.getoption("--bench-slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


def pytest_report_header(config):
    _, missing = _peers(config.getoption("--bench-threads"))
    return [f"csoftmax benchmarks: {name} {reason}" for name, reason in missing.items()]


def _split(text: str):
    return [s.strip() for s in text.split(",") if s.strip()]


@functools.cache
def _peers(threads: int):
    peers, missing = load_peers(threads)
    return {p.name: p for p in peers}, missing


@functools.lru_cache(maxsize=2)  # inputs reach 256 MiB: keep very few
def _logits(shape, dtype):
    return make_logits(shape, dtype, SEED)


@pytest.fixture
def peer(request, impl):
    """The implementation under test, or a skip if it is not installed."""
    peers, missing = _peers(request.config.getoption("--bench-threads"))
    if impl not in peers:
        pytest.skip(f"{impl}: {missing.get(impl, 'not available')}")
    return peers[impl]


@pytest.fixture
def reference():
    return csoftmax.reference


@pytest.fixture
def logits(shape, dtype):
    return _logits(parse_shapes(shape)[0], dtype)


@pytest.fixture
def targets(logits):
    return make_targets(logits, -1, SEED)


def prepare_checked(peer, case: Case, expected):
    """Prepare ``case`` for ``peer``, skip if unsupported, fail if wrong."""
    prepared = peer.prepare(case)
    if prepared is None:
        pytest.skip(f"{peer.name} does not implement {case.op} for this case")
    ok, note = check(prepared.to_numpy(prepared.call()), expected, case.x.dtype)
    assert ok, f"{peer.name} {case.op} differs from csoftmax.reference: {note}"
    return prepared


def describe(benchmark, peer, case: Case) -> None:
    """Record what was measured alongside the timings (saved JSON)."""
    benchmark.extra_info.update(
        op=case.op,
        impl=peer.name,
        impl_version=peer.version,
        shape=list(case.x.shape),
        dtype=str(case.x.dtype),
        bytes=int(case.x.nbytes),
    )
