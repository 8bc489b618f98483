"""What the benchmark ran on: date, CPU, software versions, csoftmax's set-up.

Timings mean little without this context, so it heads every report and is
stored in the JSON output.
"""

from __future__ import annotations

import datetime
import os
import platform
from typing import Dict, List

import numpy as np

import csoftmax

from .peers import Peer

# CPU flags worth showing: they decide which csoftmax kernels can run.
_INTERESTING_FLAGS = ("sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "neon", "asimd", "sve")


def cpu_info() -> Dict[str, object]:
    """CPU model, logical/usable cores and SIMD flags (Linux /proc/cpuinfo)."""
    model, flags, ids = "", set(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "hardware", "cpu model") and not model:
                    model = value.strip()
                elif key in ("flags", "features") and not flags:
                    flags = set(value.split())
                elif key in ("vendor_id", "cpu family", "model") and key not in ids:
                    ids[key] = value.strip()
    except OSError:  # not Linux: keep what platform knows
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    if "vendor_id" in ids:  # the vendor and generation: a VM's model name may hide both
        model = (f"{model} ({ids['vendor_id']} family {ids.get('cpu family', '?')} "
                 f"model {ids.get('model', '?')})")
    return {
        "model": model or platform.processor() or platform.machine() or "unknown",
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "simd_flags": [f for f in _INTERESTING_FLAGS if f in flags],
    }


def environment(peers: List[Peer], missing: Dict[str, str], threads: int) -> Dict[str, object]:
    """Everything the report header shows, as plain JSON-able data."""
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_info(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "peers": {p.name: {"label": p.label, "version": p.version, "note": p.note} for p in peers},
        "missing": dict(missing),
        "csoftmax": {
            "isa": csoftmax.get_isa(),
            "available_isas": list(csoftmax.available_isas()),
            "threads": str(threads),
            "output_cache_bytes": csoftmax.output_cache_info().limit,
        },
    }


def header_lines(env: Dict[str, object], threads: int, policy_note: str) -> List[str]:
    """Human-readable header, one fact per line."""
    cpu, cs = env["cpu"], env["csoftmax"]
    lines = [
        f"date:      {env['date']}",
        (
            f"machine:   {cpu['model']}, {cpu['usable_cores']} usable of {cpu['logical_cores']} logical cores;"
            f" SIMD: {' '.join(cpu['simd_flags']) or 'unknown'}"
        ),
        f"platform:  {env['platform']}",
        f"software:  Python {env['python']}, NumPy {env['numpy']}",
    ]
    for name, peer in env["peers"].items():
        note = f"; {peer['note']}" if peer.get("note") else ""
        lines.append(f"  {name:<12} {peer['label']} {peer['version']}{note}")
    for name, reason in env["missing"].items():
        lines.append(f"  {name:<12} {reason}")
    isas, cache_mib = ", ".join(cs["available_isas"]), cs["output_cache_bytes"] / 2**20
    lines.append(
        f"csoftmax:  ISA {cs['isa']} (available: {isas}); threads {cs['threads']}; output cache {cache_mib:g} MiB"
    )
    lines.append(f"threads:   {threads} for every implementation that can be told (NumPy/SciPy are single-threaded)")
    lines.append(f"timing:    {policy_note}")
    return lines
