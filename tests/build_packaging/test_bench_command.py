"""The benchmark command's own logic: shapes, rows, the "vs best" column, a missing peer.

Runs with NumPy alone (the peers are not needed): no timing is asserted on.
"""
import sys

import pytest

from helpers import fast_module


@pytest.fixture(scope="module")
def bench():
    fast_module()  # the benchmark imports the compiled csoftmax
    from csoftmax.bench import cli, peers, report, runner
    return cli, peers, report, runner


def test_shapes_of_any_rank(bench):
    cli, _, _, runner = bench
    assert runner.parse_shapes("64x1000, 8x16x128x128,7") == [(64, 1000), (8, 16, 128, 128), (7,)]
    for bad in ("64x", "0x10", "ax3", ""):
        with pytest.raises(ValueError):
            runner.parse_shapes(bad)
    shapes = runner.parse_shapes(cli.DEFAULT_SHAPES)
    assert {(16384, 32), (4096, 100), (2048, 257), (8, 16, 128, 128)} <= set(shapes)
    assert (4096, 100) in runner.parse_shapes(cli.QUICK_SHAPES)


def test_plan_skips_cross_entropy_of_nd_shapes(bench):
    cli = bench[0]
    args = cli.parse_args(["--shapes", "4x5,2x3x5", "--no-extras"])
    rows = [(s.op, s.shape) for s in cli.plan(args)]
    assert ("cross_entropy", (4, 5)) in rows and ("softmax", (2, 3, 5)) in rows
    assert ("cross_entropy", (2, 3, 5)) not in rows


def _row(runner, times):
    from csoftmax.bench.timing import Timing
    row = runner.Row(runner.RowSpec("main", "softmax", "float32", (4, 5)), bytes_moved=160)
    for name, t in times.items():
        ok = t is not None
        row.cells[name] = runner.Cell(name, "ok" if ok else "WRONG", Timing([t]) if ok else None)
    return row


def test_best_peer_is_the_fastest_correct_peer(bench):
    _, _, report, runner = bench
    row = _row(runner, {"csoftmax": 2.0, "numpy": 9.0, "onnxruntime": 1.6, "jax": 2.5, "torch": None})
    assert row.best_peer() == ("onnxruntime", pytest.approx(0.8))
    assert row.as_dict()["best_peer"] == {"name": "onnxruntime", "speedup": pytest.approx(0.8)}
    table = report.comparison_table("t", [row], markdown=True)
    header, _, line = table.splitlines()[2:5]
    cols = [c.strip() for c in header.strip("|").split("|")]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cols.index("vs best") == cols.index("×jax") + 1 and cols[-2:] == ["GB/s", "t/memcpy"]
    assert cells[cols.index("vs best")] == "0.80x onnxruntime"
    assert _row(runner, {"csoftmax": 1.0, "torch": None}).best_peer() is None
    alone = report.comparison_table("t", [_row(runner, {"csoftmax": 1.0})], markdown=False)
    assert "vs best" not in alone  # no peer, no column


def test_jax_missing_is_reported_not_raised(bench, monkeypatch):
    peers = bench[1]
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax -> ImportError
    loaded, missing = peers.load_peers(1, only=["jax"])
    assert [p.name for p in loaded] == ["csoftmax"]
    assert missing["jax"].startswith("not installed")


def test_command_runs_an_nd_shape(bench, capsys):
    cli = bench[0]
    assert cli.main(["--quick", "--shapes", "2x3x5", "--impls", "numpy", "--no-extras", "-q"]) == 0
    out = capsys.readouterr().out
    assert "2x3x5" in out and "vs best" in out and "numpy" in out


def test_fused_section(bench):
    # the fused and half-precision rows: every case runs (its result was checked against the reference when the
    # cases were built), and each ratio is its time over the compared case's
    from csoftmax.bench import fused
    from csoftmax.bench.timing import Timing
    cases = fused.attention_cases((1, 2, 8, 8), threads=1) + fused.half_cases([(3, 10)], threads=1)
    labels = [c.label for c in cases]
    assert len(set(labels)) == len(labels)
    assert all(c.versus is None or c.versus in labels for c in cases)
    for c in cases:
        c.call()
    timings = [(c.label, Timing(samples=[1e-3 * (i + 1)])) for i, c in enumerate(cases)]
    body = fused.table_rows(cases, timings)
    assert body[1][3] == "2.00x" and body[1][4] == "<= 1.15x plain"


def test_onednn_peer_agrees_or_is_reported_missing(bench, monkeypatch, tmp_path):
    import numpy as np
    peers = bench[1]
    monkeypatch.setattr(sys, "prefix", str(tmp_path))   # no libdnnl.so.3 there
    loaded, missing = peers.load_peers(1, only=["onednn"])
    assert [p.name for p in loaded] == ["csoftmax"]
    assert missing["onednn"].startswith("not installed")
    monkeypatch.undo()
    loaded, missing = peers.load_peers(1, only=["onednn"])
    if "onednn" in missing:
        pytest.skip(f"oneDNN {missing['onednn']}")
    dnnl = loaded[-1]
    x = np.random.default_rng(0).standard_normal((3, 7, 50)).astype(np.float32) * 4
    fast = fast_module()
    for op in ("softmax", "log_softmax"):
        # oneDNN forms x - max in float32: log_softmax's error grows with |x| (up to ~16 here)
        atol = 1e-6 if op == "softmax" else 16 * 16 * float(np.finfo(np.float32).eps)
        for axis in (-1, 1):
            want = getattr(fast, op)(x, axis=axis)
            got = dnnl.prepare(peers.Case(op, x, axis))
            np.testing.assert_allclose(got.to_numpy(got.call()), want, rtol=1e-5, atol=atol)
            out = np.empty_like(x)
            got = dnnl.prepare(peers.Case(op, x, axis, out=out))
            assert got.call() is out
            np.testing.assert_allclose(out, want, rtol=1e-5, atol=atol)
    assert dnnl.prepare(peers.Case("softmax", x.astype(np.float64))) is None
    assert dnnl.prepare(peers.Case("logsumexp", x)) is None
