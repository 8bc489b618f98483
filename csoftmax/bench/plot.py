"""Bar chart of csoftmax's speedup over each peer (``--plot FILE.png``).

matplotlib is optional: :func:`require_matplotlib` is called before the
benchmark runs, so a missing install fails in a second, not after minutes.
"""

from __future__ import annotations

from typing import Sequence

from .peers import OPS, PEER_ORDER
from .runner import Row


class PlotUnavailable(RuntimeError):
    pass


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(
            "--plot needs matplotlib, which is not installed: pip install matplotlib "
            "(or pip install 'csoftmax[plot]')"
        ) from None


def plot_speedups(path: str, rows: Sequence[Row], title: str) -> None:
    """One panel per (operation, dtype); per shape, one bar per peer (log scale)."""
    import matplotlib

    matplotlib.use("Agg")  # file output only: no display needed (CI, SSH)
    import matplotlib.pyplot as plt

    groups = {}
    for r in rows:
        groups.setdefault((r.spec.op, r.spec.dtype), []).append(r)
    keys = sorted(groups, key=lambda k: (OPS.index(k[0]) if k[0] in OPS else 99, k[1]))
    if not keys:
        raise PlotUnavailable("nothing to plot: no rows were measured")
    height = 3.2 * len(keys) + 0.9  # inches; the top 0.9 hold the title and legend
    fig, axes = plt.subplots(len(keys), 1, figsize=(10, height), squeeze=False)
    handles = {}
    for ax, key in zip(axes[:, 0], keys):
        group = groups[key]
        peers = [p for p in PEER_ORDER[1:] if any(r.speedup(p) for r in group)]
        width = 0.8 / max(len(peers), 1)
        for i, peer in enumerate(peers):
            xs = [j + (i - (len(peers) - 1) / 2) * width for j in range(len(group))]
            ys = [r.speedup(peer) or float("nan") for r in group]  # NaN: no bar (log axis)
            # A fixed colour per peer keeps panels with fewer peers comparable.
            color = f"C{PEER_ORDER.index(peer)}"
            handles[peer] = ax.bar(xs, ys, width, color=color, label=f"vs {peer}")
        ax.axhline(1.0, color="black", linewidth=0.8)  # below the line: csoftmax slower
        ax.set_yscale("log")
        ax.set_xlim(-0.6, max(len(group), 4) - 0.4)  # a lone shape keeps slim bars
        ax.set_xticks(range(len(group)))
        ax.set_xticklabels([r.spec.label for r in group], fontsize=8)
        ax.set_ylabel("speedup (x)")
        ax.set_title(f"{key[0]} {key[1]}", fontsize=10)
    # One legend for the figure, above the panels, where it hides no bar.
    ordered = [p for p in PEER_ORDER if p in handles]
    labels = [f"vs {p}" for p in ordered]
    fig.suptitle(title + "  (above 1: csoftmax faster)", fontsize=11, y=1 - 0.1 / height, va="top")
    top = 1 - 0.4 / height
    fig.legend([handles[p] for p in ordered], labels, loc="upper center", ncol=max(len(ordered), 1), fontsize=8,
               bbox_to_anchor=(0.5, top), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / height))
    fig.savefig(path, dpi=110)
    plt.close(fig)
