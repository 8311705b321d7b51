"""A sweep of 1000 configurations, locally and on a dask LocalCluster: identical tables.

    python benches/sweep_1000.py [--quick] [--json benches/results/sweep_1000.json]

10 topologies x 5 command lines x 4 memory sizes x 5 scenarios, metric = boot summary +
memory summary. The local run uses a 2-process pool, the cluster 2 worker processes x 1
thread (dashboard off); both show the progress bar on stderr. Timings include pool / cluster
start-up; the cluster's start-up is also reported on its own.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numa_hpe
from numa_hpe.sweep import grid
from numa_hpe.sweep_metrics import boot_summary, memory_summary

TOPOLOGIES = [
    "node:1 package:1 core:4 pu:2", "node:2 package:1 core:4 pu:2", "node:4 package:1 core:4 pu:2",
    "node:8 package:1 core:2 pu:2", "node:16 package:1 core:2 pu:1", "package:2 node:2 core:4 pu:2",
    "node:2 package:2 core:4 pu:1", "node:4 package:2 core:2 pu:2", "node:32 core:2", "node:64 core:1",
]
CMDLINES = ["", "numa=off", "numa=possible=128", "mem=2G", "maxcpus=2 cpu_hpe=on"]
MEM_PER_NODE = ["256M", "512M", "1G", "4G"]
SCENARIOS: list[list[Any]] = [
    [],
    ["echo 0 > /sys/devices/system/cpu/cpu1/online"],
    ["echo offline > /sys/devices/system/memory/memory9/state"],
    ["echo 1 > /sys/devices/system/cpu/probe"],
    [{"op": "write", "path": "/sys/devices/system/cpu/cpu1/online", "data": "0\n"},
     {"op": "write", "path": "/sys/devices/system/cpu/cpu1/online", "data": "1\n"}],
]


def metrics(m: numa_hpe.Machine, config: Mapping[str, Any]) -> dict[str, Any]:
    return {**boot_summary(m, config), **memory_summary(m, config)}


def configs(quick: bool) -> list[dict[str, Any]]:
    axes = {"firmware": TOPOLOGIES, "cmdline": CMDLINES,
            "firmware_args.mem_per_node": MEM_PER_NODE, "scenario": SCENARIOS}
    out = grid(axes)
    return out[::9][:100] if quick else out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 configurations instead of 1000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "sweep_1000.json"))
    a = ap.parse_args()
    from distributed import Client, LocalCluster

    cfgs = configs(a.quick)
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(a.workers) as ex:
        local = numa_hpe.sweep(cfgs, metrics, ex, progress=True)
    t_local = time.perf_counter() - t0

    t0 = time.perf_counter()
    with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t_start = time.perf_counter() - t0
        t1 = time.perf_counter()
        remote = numa_hpe.sweep(cfgs, metrics, client, progress=True)
        t_run = time.perf_counter() - t1
    t_cluster = time.perf_counter() - t0

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(1) as ex:
        serial_result = numa_hpe.sweep(cfgs, metrics, ex, progress=False)
    t_serial = time.perf_counter() - t0

    same = local.without_timings() == remote.without_timings() == serial_result.without_timings()
    boot = sorted(r["boot_s"] for r in local if r["boot_s"] is not None)
    out = {
        "configs": len(cfgs), "errors": len(local.errors()), "identical": same,
        "workers": a.workers, "local_process_pool_s": t_local, "local_cluster_total_s": t_cluster,
        "local_cluster_startup_s": t_start, "local_cluster_sweep_s": t_run,
        "serial_one_thread_s": t_serial, "boot_median_ms": 1e3 * boot[len(boot) // 2],
        "error_types": sorted({r["error_type"] for r in local.errors()}),
        "nproc": os.cpu_count(),
    }
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
