"""Turn benchmark rows into the report (plain text or Markdown) and JSON."""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence, Tuple

from . import fused
from .peers import OPS, PEER_ORDER
from .runner import Row, format_us, shape_label
from .timing import Timing

LEGEND = (
    "µs = median time per call; ×peer = peer time / csoftmax time (higher: csoftmax faster); "
    "vs best = the fastest peer's time / csoftmax time, and which peer that was; "
    "GB/s = csoftmax bytes read + written / time; t/memcpy = csoftmax time / np.copyto of the "
    "same array (1.0 = as fast as a copy); * = out= preallocated for the implementations that accept it"
)


def format_ratio(r: Optional[float]) -> str:
    if r is None:
        return "-"
    if r < 10:
        return f"{r:.2f}x"
    return f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


def render_table(title: str, headers: Sequence[str], body: Sequence[Sequence[str]], markdown: bool) -> str:
    """First column left-aligned, the rest right-aligned (they are numbers)."""
    if markdown:
        lines = [f"#### {title}", "", "| " + " | ".join(headers) + " |"]
        lines.append("|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

    rule = "-" * len(line(headers))
    return "\n".join([title, rule, line(headers), rule] + [line(r) for r in body] + [rule]) + "\n"


def _cell_text(row: Row, impl: str) -> str:
    cell = row.cells.get(impl)
    if cell is None or cell.status == "n/a":
        return "-"
    return format_us(cell.median) if cell.status == "ok" else cell.status


def _present(rows: Sequence[Row]) -> List[str]:
    """Implementations with at least one attempted cell, in column order."""
    seen = {name for r in rows for name, c in r.cells.items() if c.status != "n/a"}
    return [name for name in PEER_ORDER if name in seen]


def comparison_table(title: str, rows: Sequence[Row], markdown: bool) -> str:
    """Per-shape times of every implementation, speedups, GB/s, memcpy ratio."""
    impls = _present(rows)
    peers = [name for name in impls if name != "csoftmax"]
    best = ["vs best"] if peers else []
    headers = ["case"] + [f"{n} µs" for n in impls] + [f"×{n}" for n in peers] + best + ["GB/s", "t/memcpy"]
    body = []
    for r in rows:
        label = r.spec.label + (" *" if r.spec.use_out else "")
        body.append(
            [label]
            + [_cell_text(r, n) for n in impls]
            + [format_ratio(r.speedup(n)) for n in peers]
            + ([_best_text(r)] if peers else [])
            + [_fmt(r.gbps(), ".1f"), _fmt(r.memcpy_ratio(), ".2f")]
        )
    return render_table(title, headers, body, markdown) + _problems(rows, markdown)


def _best_text(row: Row) -> str:
    """``"0.91x onnxruntime"``: csoftmax's speedup over the fastest peer of the row, and its name."""
    best = row.best_peer()
    return f"{format_ratio(best[1])} {best[0]}" if best else "-"


def isa_table(row: Row, default_isa: str, markdown: bool) -> str:
    """csoftmax under each instruction-set path (cells named by ISA)."""
    base = row.time(default_isa)
    headers = ["ISA", "csoftmax µs", "GB/s", "t/memcpy", f"speed vs {default_isa}"]
    body = []
    for isa in row.cells:
        t = row.time(isa)
        body.append(
            [
                isa + (" (default)" if isa == default_isa else ""),
                _cell_text(row, isa),
                _fmt(row.gbps(isa), ".1f"),
                _fmt(row.memcpy_ratio(isa), ".2f"),
                format_ratio(base / t) if base and t else "-",
            ]
        )
    spec = row.spec
    title = f"{spec.op} {spec.dtype} {shape_label(spec.shape)} per ISA path (csoftmax._set_isa)"
    return render_table(title, headers, body, markdown) + _problems([row], markdown)


def _fmt(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def calls_table(title: str, results: Sequence[Tuple[str, Timing]], markdown: bool) -> str:
    body = [[label, format_us(t.median)] for label, t in results]
    return render_table(title, ["call", "µs"], body, markdown)


def _problems(rows: Sequence[Row], markdown: bool) -> str:
    """List why cells are WRONG/error below their table (never silently)."""
    notes = [
        f"{'- ' if markdown else '  ! '}{name} {r.spec.op} {r.spec.dtype} {r.spec.label}: {c.status}: {c.note}"
        for r in rows
        for name, c in r.cells.items()
        if c.status in ("WRONG", "error")
    ]
    return ("\n".join(notes) + "\n") if notes else ""


def render(args, env_lines: List[str], rows: List[Row], calls, env, fused_body=()) -> str:
    """The whole report: header, one table per (dtype, op), the extra sections, the legend."""
    md = args.markdown
    parts = ["```text\n" + "\n".join(env_lines) + "\n```\n" if md else "\n".join(env_lines) + "\n"]
    threads = f"{args.threads} thread{'s' if args.threads > 1 else ''}"
    for dtype in args.dtype_list:
        for op in OPS:
            group = [r for r in rows if r.spec.section == "main" and r.spec.op == op and r.spec.dtype == dtype]
            if group:
                what = "loss + gradient (mean, int64 labels)" if op == "cross_entropy" else "axis=-1"
                parts.append(comparison_table(f"{op} {dtype}, {what}, {threads}", group, md))
    extras = [
        ("float64", "softmax float64 (extra)"),
        ("axis", "softmax float32: reduce along axis=0 of a C-contiguous array vs axis=-1"),
    ]
    for section, title in extras:
        group = [r for r in rows if r.spec.section == section]
        if group:
            parts.append(comparison_table(title, group, md))
    for row in rows:
        if row.spec.section == "isa":
            parts.append(isa_table(row, env["csoftmax"]["isa"], md))
    if calls:
        parts.append(calls_table("whole-call time: softmax of a (1, 10) float32 array", calls, md))
    if fused_body:
        parts.append(render_table(fused.TITLE, fused.HEADERS, fused_body, md))
    parts.append(("_" if md else "") + LEGEND + ("_" if md else "") + "\n")
    return "\n".join(parts)


def to_json(path: str, env: Dict, settings: Dict, rows: Sequence[Row], calls: Sequence[Tuple[str, Timing]]) -> None:
    data = {
        "environment": env,
        "settings": settings,
        "rows": [r.as_dict() for r in rows],
        "whole_call": [{"call": label, **t.as_dict()} for label, t in calls],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, default=_json_default)
        f.write("\n")


def _json_default(obj):
    """numpy scalars become plain Python numbers."""
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
