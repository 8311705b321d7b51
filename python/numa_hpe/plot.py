"""``numa-hpe plot``: pictures of an emulated machine (needs matplotlib: ``pip install
'numa_hpe[plot]'``).

* :func:`plot_distances`: the SLIT (``node_distance``) as a heat map over the possible nodes.
* :func:`plot_memory_map`: the physical address space, one bar per memory block, coloured by
  zone (online blocks) or hatched grey (offline blocks), one row per node.
* :func:`plot_sched_domains`: the sched-domain tree of one CPU (from the ``sched_verbose``
  attach lines of the kernel log: ``domain-L: span=... level=NAME`` and its groups).

Each function takes a :class:`~numa_hpe.Machine` and an output path; the format follows the
extension (``.png``, ``.svg``, ``.pdf``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from .machine import Machine

ZONE_COLOURS = {"DMA": "#8c564b", "DMA32": "#ff7f0e", "Normal": "#1f77b4",
                "Movable": "#2ca02c", "Device": "#9467bd", "none": "#7f7f7f"}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the install
        raise SystemExit("numa-hpe plot needs matplotlib: pip install 'numa_hpe[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def sched_domains(m: Machine, cpu: int) -> list[dict[str, Any]]:
    """The last attached sched domains of ``cpu``, innermost first: ``{"level", "name", "span",
    "groups"}`` parsed from the kernel log (boot with ``sched_verbose``)."""
    log = m.dmesg()
    start = None
    for i, line in enumerate(log):
        if line in (f"CPU{cpu} attaching sched-domain(s):", f"CPU{cpu} attaching NULL sched-domain."):
            start = i
    if start is None or log[start].endswith("NULL sched-domain."):
        return []
    out: list[dict[str, Any]] = []
    for line in log[start + 1:]:
        d = re.fullmatch(r"\s*domain-(\d+): span=(\S*) level=(\S+)", line)
        if d:
            out.append({"level": int(d.group(1)), "span": d.group(2), "name": d.group(3), "groups": []})
            continue
        g = re.fullmatch(r"\s*groups: (.*)", line)
        if g and out:
            out[-1]["groups"] = re.findall(r"\d+:\{ span=(\S+)", g.group(1))
            continue
        break
    return out


def plot_distances(m: Machine, path: str | Path) -> None:
    plt = _pyplot()
    d = m.distance_matrix()
    n = d.shape[0]
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * n, 1.0 + 0.6 * n))
    im = ax.imshow(d, cmap="viridis_r")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(d[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if d[i, j] > (d.max() + d.min()) / 2 else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("to node")
    ax.set_ylabel("from node")
    ax.set_title("node_distance (SLIT)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_memory_map(m: Machine, path: str | Path) -> None:
    plt = _pyplot()
    from matplotlib.patches import Patch

    blocks = m.memory_blocks()
    nodes = sorted({b.nodes[0] if b.nodes else -1 for b in blocks}) or [0]
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.5 * len(nodes)))
    gib = float(1 << 30)
    seen: dict[str, Any] = {}
    for b in blocks:
        row = nodes.index(b.nodes[0] if b.nodes else -1)
        if b.state == "online":
            zone = b.valid_zones.split()[0]
            colour, hatch, label = ZONE_COLOURS.get(zone, "#bcbd22"), None, f"{zone} (online)"
        else:
            colour, hatch, label = "#d9d9d9", "//", "offline"
        ax.barh(row, b.size / gib, left=b.start / gib, height=0.6, color=colour, hatch=hatch,
                edgecolor="white", linewidth=0.3)
        seen.setdefault(label, Patch(facecolor=colour, hatch=hatch, label=label))
    ax.set_yticks(range(len(nodes)))
    ax.set_yticklabels([f"node {n}" if n >= 0 else "no node" for n in nodes])
    ax.invert_yaxis()
    ax.set_xlabel("physical address (GiB)")
    ax.set_title(f"memory blocks ({len(blocks)} x {blocks[0].size >> 20} MiB)" if blocks else "memory blocks")
    ax.legend(handles=list(seen.values()), loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_sched_domains(m: Machine, path: str | Path, cpu: int = 0) -> None:
    plt = _pyplot()
    doms = sched_domains(m, cpu)
    fig, ax = plt.subplots(figsize=(8, 1.5 + 1.1 * max(len(doms), 1)))
    ax.axis("off")
    if not doms:
        ax.text(0.5, 0.5, f"CPU{cpu}: no sched domain (single CPU, or boot without sched_verbose)",
                ha="center", va="center")
    levels = list(reversed(doms))  # outermost at the top
    for y, d in enumerate(levels):
        ax.text(0.02, -y, f"domain-{d['level']} {d['name']}\nspan {d['span']}", ha="left",
                va="center", fontsize=9, family="monospace",
                bbox={"boxstyle": "round", "facecolor": "#dbe9f6", "edgecolor": "#1f77b4"})
        groups = d["groups"] or [d["span"]]
        for k, g in enumerate(groups):
            x = 0.35 + 0.6 * (k + 0.5) / len(groups)
            ax.text(x, -y, f"group {g}", ha="center", va="center", fontsize=8, family="monospace",
                    bbox={"boxstyle": "round", "facecolor": "#fdebd0", "edgecolor": "#ff7f0e"})
        if y + 1 < len(levels):  # child domain below
            ax.annotate("", xy=(0.08, -y - 0.72), xytext=(0.08, -y - 0.28),
                        arrowprops={"arrowstyle": "->", "color": "#888888"})
    ax.set_xlim(0, 1)
    ax.set_ylim(-max(len(levels), 1) + 0.4, 0.6)
    ax.set_title(f"sched domains of CPU{cpu}: domains (left, parent above child) and their groups")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


KINDS: dict[str, Callable[..., None]] = {"distances": plot_distances, "memory": plot_memory_map, "sched": plot_sched_domains}
