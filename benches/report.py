"""Regenerate the benchmark report: benches/README.md and benches/scaling.png.

    python benches/report.py            # full sizes (several minutes on 2 cores)
    python benches/report.py --quick    # CI smoke: small sizes, no README/PNG overwrite
                                        #   unless --out-dir says where

One session measures everything: the pytest-benchmark suite (``pytest benches --benchmark-only
--benchmark-json=...``), hwloc's ``lstopo-no-graphics --input "<synthetic>" --of console`` on the
equivalent topologies, boot time and peak memory from 64 to 8192 CPUs and from 1 to 1024 nodes
(a fresh process per point; raw data in ``benches/results/``), the export read back by ``lstopo``/``lscpu`` when ``numa-hpe
export`` exists, and the 1000-configuration sweep (``benches/sweep_1000.py``).
Needs ``pip install '.[bench,sweep]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LSTOPO = shutil.which("lstopo-no-graphics")
MEM_PER_NODE = 16 << 30

# One scaling point, in a fresh interpreter so ru_maxrss is this boot's alone.
CHILD = r"""
import json, resource, subprocess, sys, time
topology, reps, lstopo, mem = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
out = {}
if lstopo == "-":
    import numa_hpe
    fw = numa_hpe.Firmware.synthetic(topology, mem_per_node=mem).to_json()
    numa_hpe.boot(numa_hpe.Firmware.synthetic("node:2 core:2"))  # warm-up: code pages, allocator
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for i in range(reps):
        t = time.perf_counter(); m = numa_hpe.boot(fw); times.append(time.perf_counter() - t)
        if i == 0 and times[0] > 2.0:
            break
        del m
    out = {"times": times, "rss_base_kb": base,
           "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
else:
    node, *rest = topology.split()
    arg = f"{node}(memory={mem}) " + " ".join(rest)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([lstopo, "--input", arg, "--of", "console"], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    out = {"times": times, "rss_base_kb": 0,
           "rss_peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}
print(json.dumps(out))
"""


def sh(cmd: list[str], **kw: Any) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "n/a"


def machine() -> dict[str, str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": sh(["nproc"]), "cpu": cpu, "memory": f"{mem_kb / 2**20:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
        "rustc": sh(["rustc", "--version"]), "hwloc": sh([LSTOPO, "--version"]) if LSTOPO else "absent",
        "commit": sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        + (" (dirty)" if sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
           not in ("", "n/a") else ""),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def run_pytest_benchmarks(out: Path, quick: bool) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "pytest", str(HERE), "--benchmark-only", f"--benchmark-json={out}",
           "-q", "-p", "no:cacheprovider"]
    if quick:
        cmd += ["-k", "64cpu"]
    print("$", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=ROOT, check=True)
    rows = []
    for b in json.loads(out.read_text())["benchmarks"]:
        s = b["stats"]
        rows.append({"name": b["name"], "group": b.get("group"), "median": s["median"],
                     "iqr": s["iqr"], "min": s["min"], "max": s["max"], "rounds": s["rounds"],
                     "extra": b.get("extra_info", {})})
    return rows


def point(topology: str, reps: int, lstopo: bool) -> dict[str, Any]:
    args = [sys.executable, "-c", CHILD, topology, str(reps), LSTOPO if lstopo else "-", str(MEM_PER_NODE)]
    r = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    r["median"] = statistics.median(r["times"])
    r["spread"] = max(r["times"]) - min(r["times"])
    return r


def scaling(max_cpus: int, max_nodes: int, reps: int) -> dict[str, list[dict[str, Any]]]:
    series: dict[str, list[dict[str, Any]]] = {"cpus": [], "nodes": []}
    ncpus = 64
    while ncpus <= max_cpus:  # 4 nodes, 2 threads per core
        topo = f"node:4 package:1 core:{ncpus // 8} pu:2"
        series["cpus"].append({"x": ncpus, "topology": topo, "hpe": point(topo, reps, False),
                               "lstopo": point(topo, reps, True) if LSTOPO else None})
        print(f"scaling: {topo}", file=sys.stderr)
        ncpus *= 2
    nnodes = 1
    while nnodes <= max_nodes:  # 8 CPUs per node
        topo = f"node:{nnodes} package:1 core:4 pu:2"
        series["nodes"].append({"x": nnodes, "topology": topo, "hpe": point(topo, reps, False),
                                "lstopo": point(topo, reps, True) if LSTOPO else None})
        print(f"scaling: {topo}", file=sys.stderr)
        nnodes *= 4
    return series


def plot(series: dict[str, list[dict[str, Any]]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for col, (key, label) in enumerate([("cpus", "CPUs (4 nodes)"), ("nodes", "nodes (8 CPUs each)")]):
        pts = series[key]
        xs = [p["x"] for p in pts]
        t_ax, m_ax = axes[0][col], axes[1][col]
        t_ax.errorbar(xs, [p["hpe"]["median"] for p in pts], marker="o", label="numa_hpe boot",
                      yerr=[[p["hpe"]["median"] - min(p["hpe"]["times"]) for p in pts],
                            [max(p["hpe"]["times"]) - p["hpe"]["median"] for p in pts]])
        m_ax.plot(xs, [p["hpe"]["rss_peak_kb"] / 1024 for p in pts], marker="o",
                  label="numa_hpe process (peak RSS, incl. Python + numpy)")
        grown = [(p["x"], (p["hpe"]["rss_peak_kb"] - p["hpe"]["rss_base_kb"]) / 1024) for p in pts]
        grown = [(x, g) for x, g in grown if g > 0]
        m_ax.plot([x for x, _ in grown], [g for _, g in grown], marker="o", linestyle="--",
                  color="tab:blue", alpha=0.6, label="numa_hpe boot (peak RSS growth, > 0 only)")
        if all(p["lstopo"] for p in pts):
            t_ax.plot(xs, [p["lstopo"]["median"] for p in pts], marker="s", label="hwloc lstopo (synthetic)")
            m_ax.plot(xs, [p["lstopo"]["rss_peak_kb"] / 1024 for p in pts], marker="s",
                      label="hwloc lstopo (peak RSS)")
        for ax, ylabel in ((t_ax, "time (s), median and range"), (m_ax, "peak memory (MiB)")):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle("numa_hpe boot scaling (16 GiB per node)")
    fig.tight_layout()
    fig.savefig(png, dpi=90)


EXPORT_TOPOLOGIES = ["node:4 package:1 core:8 pu:2", "node:64 package:1 core:8 pu:2"]


def _timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - t, out


def export_check() -> str:
    """Export machines to tmpfs and read them back with the real tools: time of each step and
    whether the tools see the machine's CPU and node counts."""
    import tempfile

    import numa_hpe

    lstopo, lscpu = shutil.which("lstopo-no-graphics"), shutil.which("lscpu")
    if not (lstopo and lscpu):
        return "Skipped: `lstopo-no-graphics` or `lscpu` is not installed."
    rows = ["| topology | export | files | `lstopo --if fsroot` | `lscpu --sysroot` | tools agree |",
            "|---|---|---|---|---|---|"]
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    for topo in EXPORT_TOPOLOGIES:
        m = numa_hpe.boot(numa_hpe.Firmware.synthetic(topo, mem_per_node="1G"))
        ncpu = len([c for c in m.cpus() if c.online])
        nnode = len([n for n in m.nodes() if n.online])
        with tempfile.TemporaryDirectory(dir=base) as d:
            t = time.perf_counter()
            stats = m.export(d, force=True)
            t_export = time.perf_counter() - t
            t_lstopo, out = _timed([lstopo, "--if", "fsroot", "--input", d, "--of", "console", "--only", "pu"])
            pus = sum(1 for line in out.splitlines() if line.strip().startswith("PU"))
            t_lscpu, out2 = _timed([lscpu, "--sysroot", d])
            nodes = next((int(line.split(":")[1]) for line in out2.splitlines()
                          if line.startswith("NUMA node(s):")), -1)
            files = getattr(stats, "files", "?")
            ok = "yes" if (pus, nodes) == (ncpu, nnode) else f"no (PUs {pus}/{ncpu}, nodes {nodes}/{nnode})"
            rows.append(f"| `{topo}` | {fmt_s(t_export)} | {files} | {fmt_s(t_lstopo)} | "
                        f"{fmt_s(t_lscpu)} | {ok} |")
    return "\n".join(rows)


def fmt_s(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def render(m: dict[str, str], bench: list[dict[str, Any]], series: dict[str, list[dict[str, Any]]],
           sweep: dict[str, Any] | None, export: str, cmd: str, png_name: str) -> str:
    out = [HEADER, "## Figures", "",
           f"Regenerated by `{cmd}` on {m['date']}, commit {m['commit']}.", "",
           "| machine | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in m.items() if k not in ("date", "commit")]
    out += ["", "### pytest-benchmark suite", "",
            "| benchmark | median | IQR | min | max | rounds |", "|---|---|---|---|---|---|"]
    out += [f"| `{b['name']}` | {fmt_s(b['median'])} | {fmt_s(b['iqr'])} | {fmt_s(b['min'])} | "
            f"{fmt_s(b['max'])} | {b['rounds']} |" for b in bench]
    by = {b["name"]: b["median"] for b in bench}
    ratios = [("boot 64 CPUs vs `lstopo` 64 PUs", "test_boot_64cpu_4node", "test_lstopo_synthetic[64cpu]"),
              ("boot 8192 CPUs / 1024 nodes vs `lstopo` 8192 PUs", "test_boot_8192cpu_1024node",
               "test_lstopo_synthetic[8192cpu]")]
    lines = [f"| {label} | {by[a] / by[b]:.2f}x |" for label, a, b in ratios if a in by and b in by]
    if lines:
        out += ["", "| ratio (numa_hpe / hwloc, medians) | |", "|---|---|", *lines]
    out += ["", "### Scaling", "", f"![boot scaling]({png_name})", "",
            "Each point is a fresh process (median of up to 3 boots; one boot when the first takes "
            "over 2 s). Peak memory is the growth of `ru_maxrss` across the boots; for `lstopo` it "
            "is the child's peak RSS. hwloc's synthetic syntax has no distances, so `lstopo` "
            "builds no SLIT, and its times include starting the process (~20 ms).", "",
            "| topology | CPUs | nodes | numa_hpe boot (median, range) | peak mem growth | lstopo | lstopo peak RSS | ratio |",
            "|---|---|---|---|---|---|---|---|"]
    for key in ("cpus", "nodes"):
        for p in series[key]:
            h, ls = p["hpe"], p["lstopo"]
            ncpu = eval_cpus(p["topology"])
            nn = int(p["topology"].split()[0].split(":")[1])
            lcol = (f"{fmt_s(ls['median'])} | {ls['rss_peak_kb'] / 1024:.0f} MiB | "
                    f"{h['median'] / ls['median']:.2f}x") if ls else "n/a | n/a | n/a"
            out.append(f"| `{p['topology']}` | {ncpu} | {nn} | {fmt_s(h['median'])} "
                       f"({fmt_s(min(h['times']))} – {fmt_s(max(h['times']))}) | {(h['rss_peak_kb'] - h['rss_base_kb']) / 1024:.1f} MiB | {lcol} |")
    out += ["", "### Export read back by lstopo / lscpu", "", export, ""]
    if sweep:
        out += ["### Sweep of " + str(sweep["configs"]) + " configurations", "",
                *(["(From the previous full run, `benches/results/sweep_1000.json`: this run "
                   "passed `--skip-sweep`.)", ""] if sweep.get("reused") else []),
                "`python benches/sweep_1000.py`: 10 topologies x 5 command lines x 4 memory sizes x "
                "5 scenarios, metric = `boot` + `memory` summaries, progress bar on stderr. "
                f"{sweep['errors']} rows carry an error by design (failing scenario steps: "
                f"{', '.join(sweep['error_types'])}). Tables identical across executors: "
                f"**{sweep['identical']}**.", "",
                "| executor | wall time |", "|---|---|",
                f"| one thread, in process | {sweep['serial_one_thread_s']:.2f} s |",
                f"| `ProcessPoolExecutor`, {sweep['workers']} workers (incl. pool start) | {sweep['local_process_pool_s']:.2f} s |",
                f"| dask `LocalCluster`, {sweep['workers']} processes x 1 thread: sweep | {sweep['local_cluster_sweep_s']:.2f} s |",
                f"| dask `LocalCluster`: cluster start-up | {sweep['local_cluster_startup_s']:.2f} s |",
                "", f"Median boot inside the sweep: {sweep['boot_median_ms']:.2f} ms. The configs are "
                "tiny (sub-millisecond boots), so per-task overhead dominates and the 2 shared cores "
                "give little parallel gain; dask pays its scheduler round trips on top.", ""]
    return "\n".join(out)


def eval_cpus(topology: str) -> int:
    n = 1
    for tok in topology.split():
        n *= int(tok.split(":")[1])
    return n


HEADER = """# Benchmarks

pytest-benchmark suites for the emulator at scale (`test_bench_machine.py`, fixtures in
`conftest.py`), plus `report.py`, which regenerates this file and `scaling.png`, and
`sweep_1000.py` (the 1000-configuration sweep, local vs dask).

| benchmark | what |
|---|---|
| `test_boot_64cpu_4node` | boot `node:4 package:1 core:8 pu:2`, 16 GiB per node (64 CPUs, 64 GiB) |
| `test_boot_8192cpu_1024node` | boot `node:1024 package:1 core:4 pu:2`, 16 GiB per node (8192 CPUs, 16 TiB); SLIT 10 local, 12 within a group of 4 nodes, 20 within a group of 64, 30 otherwise; from a built `Firmware` (the parse is not timed) |
| `test_parse_firmware_json_1024node` | `Firmware.from_json` + validation of that machine's 5 MB JSON (1024 x 1024 SLIT) |
| `test_zonelist_rebuild_1024_nodes` | `Machine.rebuild_zonelists()` on the 8192-CPU machine (1024 fallback orders) |
| `test_sched_full_rebuild_8192` | `Machine.rebuild_sched_domains()` on the 8192-CPU machine: a full build (span table and domain objects of the last build reused where equal) |
| `test_sched_rebuild_after_cpu_online_8192` | `echo 1 > cpu4097/online` (setup takes it offline): the rebuild one CPU causes, updated from the last build (`sched_update.rs`) |
| `test_batch_add_online_1tib`, `test_file_writes_online_1tib`, `test_batch_offline_remove_1tib` | hot-add and online 1 TiB as 8192 blocks on one node (batch API / one file write each), then offline and remove |
| `test_export_8192cpu_1024node_8192blocks` | `numa-hpe export` of that machine with 8192 blocks to `/dev/shm` (~254 k entries) |
| `test_probe_and_online_8192_blocks` | `-m 2G,slots=1,maxmem=1026G`: `echo ADDR > memory/probe` for 8192 blocks (1 TiB), then `echo online > memoryN/state` for each |
| `test_cpu_offline_online_cycle_8192` | `echo 0` then `echo 1` to `cpu4097/online` on the 8192-CPU machine |
| `test_lstopo_synthetic[64cpu,8192cpu]` | hwloc `lstopo-no-graphics --input "<same topology>" --of console` (skipped without hwloc; hwloc's synthetic syntax has no distances) |

Run (on a release build: `pip install .`, not `-e` with a debug profile):

```sh
pip install '.[bench,sweep]'
python benches/report.py                              # regenerate this report (minutes)
python benches/report.py --quick --out-dir /tmp/rep   # smoke run of the report
pytest benches --benchmark-only                       # measure
pytest benches --benchmark-disable                    # each once, as a smoke test (CI)
python benches/sweep_1000.py                          # 1000 configs: process pool vs LocalCluster
```

`apt-get install hwloc` provides `lstopo-no-graphics`; `.ci/run` installs it when it can.
`report.py` sizes: `--max-cpus`, `--max-nodes`, `--repeat`, `--skip-pytest`, `--skip-sweep`.
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes for a CI smoke run")
    ap.add_argument("--out-dir", default=None, help="where README.md/scaling.png go (default benches/)")
    ap.add_argument("--max-cpus", type=int, default=None)
    ap.add_argument("--max-nodes", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--skip-pytest", action="store_true")
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render README.md/scaling.png from the saved results/*.json")
    a = ap.parse_args()
    out_dir = Path(a.out_dir) if a.out_dir else HERE
    if a.quick and a.out_dir is None:
        raise SystemExit("report: --quick needs --out-dir (it must not overwrite the committed report)")
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results"
    results.mkdir(exist_ok=True)
    max_cpus = a.max_cpus or (512 if a.quick else 8192)
    max_nodes = a.max_nodes or (16 if a.quick else 1024)
    reps = a.repeat or (1 if a.quick else 3)
    cmd = "python benches/report.py" + (" --quick" if a.quick else "")
    if a.render_only:
        saved = json.loads((results / "report.json").read_text())
        m, bench, series, sweep, cmd = (saved[k] for k in ("machine", "bench", "series", "sweep", "cmd"))
        plot(series, out_dir / "scaling.png")
        (out_dir / "README.md").write_text(render(m, bench, series, sweep, export_check(), cmd, "scaling.png"))
        return 0
    m = machine()
    bench = [] if a.skip_pytest else run_pytest_benchmarks(results / "pytest-benchmark.json", a.quick)
    series = scaling(max_cpus, max_nodes, reps)
    (results / "scaling.json").write_text(json.dumps(series, indent=1) + "\n")
    sweep = None
    sj = results / "sweep_1000.json"
    if a.skip_sweep and sj.exists():
        # Keep the last sweep's figures (marked as such) rather than dropping the section.
        sweep = {**json.loads(sj.read_text()), "reused": True}
    elif not a.skip_sweep:
        subprocess.run([sys.executable, str(HERE / "sweep_1000.py"), "--json", str(sj)]
                       + (["--quick"] if a.quick else []), check=True, stdout=subprocess.DEVNULL)
        sweep = json.loads(sj.read_text())
    png = out_dir / "scaling.png"
    plot(series, png)
    (results / "report.json").write_text(json.dumps(
        {"machine": m, "bench": bench, "series": series, "sweep": sweep, "cmd": cmd}, indent=1) + "\n")
    (out_dir / "README.md").write_text(render(m, bench, series, sweep, export_check(), cmd, png.name))
    print(f"report: wrote {out_dir / 'README.md'} and {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
